"""The project's S3 test bed: real Swift and SeaweedFS servers on 127.0.0.1 (see servers.py)."""
