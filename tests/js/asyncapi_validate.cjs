// Validates an AsyncAPI document with the AsyncAPI initiative's own parser (@asyncapi/parser,
// installed by `make node-tools` into .venv/node; found through NODE_PATH, hence CommonJS).
// Prints every diagnostic; exits 1 on an error.
const { readFileSync } = require("node:fs");
const { Parser } = require("@asyncapi/parser");

async function main() {
  const diagnostics = await new Parser().validate(readFileSync(process.argv[2], "utf8"));
  const levels = ["error", "warning", "info", "hint"];
  for (const d of diagnostics) {
    console.log(`${levels[d.severity]} ${d.code} ${d.message} at ${d.path.join(".")}`);
  }
  process.exit(diagnostics.some((d) => d.severity === 0) ? 1 : 0);
}

main();
