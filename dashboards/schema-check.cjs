// schema-check.cjs: validates dashboards against a JSON Schema generated
// from @grafana/schema's Dashboard type (tests/integration/dashboards.sh
// generates it with ts-json-schema-generator). Prints unnumbered TAP
// lines. Usage: node schema-check.cjs NODE_MODULES SCHEMA DASHBOARD...
"use strict";
const fs = require("fs");
const path = require("path");
const [modules, schemaPath, ...files] = process.argv.slice(2);
const Ajv = require(path.join(modules, "ajv"));
const schema = JSON.parse(fs.readFileSync(schemaPath, "utf8"));
const ajv = new Ajv({ allErrors: true, strict: false });
const validate = ajv.compile(schema);
for (const f of files) {
  let dash;
  try {
    dash = JSON.parse(fs.readFileSync(f, "utf8"));
  } catch (e) {
    console.log(`not ok - ${f}: valid JSON`);
    console.log(`# ${e.message}`);
    continue;
  }
  if (validate(dash)) {
    console.log(`ok - ${f}: valid against @grafana/schema's Dashboard`);
  } else {
    console.log(`not ok - ${f}: valid against @grafana/schema's Dashboard`);
    for (const e of validate.errors.slice(0, 20)) {
      console.log(`# ${e.instancePath || "/"} ${e.message} ` +
                  JSON.stringify(e.params));
    }
  }
}
