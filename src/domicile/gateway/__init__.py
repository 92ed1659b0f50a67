"""The S3 face of domicile: an ASGI app exposing the engine over the S3 REST API.

The protocol pieces are pure modules that know nothing of the engine, the catalog or the
HTTP server; they take plain values (method, path, query pairs, header pairs, bytes):

- :mod:`.sigv4`      AWS Signature Version 4: header auth and presigned URLs
- :mod:`.chunked`    the ``aws-chunked`` body decoder (chunk signatures, trailers)
- :mod:`.checksums`  CRC32, CRC32C, SHA-1, SHA-256 as S3 encodes them
- :mod:`.s3errors`   the one table of S3 error codes and the map from the error tree
- :mod:`.s3xml`      response encoders and safe request-body parsers

``docs/gateway-auth.md`` describes the authentication rules these modules enforce.
"""
