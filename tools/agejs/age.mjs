// A minimal age CLI over typage (npm age-encryption, by age's author), for interop tests:
//   node age.mjs -r RECIPIENT [-r ...]   encrypt stdin to stdout
//   node age.mjs -d -i IDENTITY_FILE     decrypt stdin to stdout
//   node age.mjs --keygen-pq             print a new post-quantum identity, then its recipient
import { readFileSync } from "node:fs"
import * as age from "age-encryption"

const args = process.argv.slice(2)
const input = () => new Uint8Array(readFileSync(0))
const write = (bytes) => process.stdout.write(Buffer.from(bytes))

if (args[0] === "--keygen-pq") {
  const identity = await age.generateHybridIdentity()
  process.stdout.write(identity + "\n" + (await age.identityToRecipient(identity)) + "\n")
} else if (args[0] === "-d") {
  const d = new age.Decrypter()
  const text = readFileSync(args[args.indexOf("-i") + 1], "utf8")
  for (const line of text.split("\n")) {
    if (line.startsWith("AGE-SECRET-KEY-")) d.addIdentity(line.trim())
  }
  write(await d.decrypt(input()))
} else {
  const e = new age.Encrypter()
  for (let i = 0; i < args.length; i += 2) {
    if (args[i] !== "-r") throw new Error("usage: -r RECIPIENT ...")
    e.addRecipient(args[i + 1])
  }
  write(await e.encrypt(input()))
}
