// Runs a definition back to back with aws-local-stepfunctions for about `seconds`,
// every Task answered by a local echo handler (as the Rust side's stub Lambda), and
// prints {"executions": n, "seconds": s, "states": k} as JSON.
// Usage: node run.mjs DEFINITION.json INPUT.json SECONDS SUBSTITUTIONS.json
import { readFileSync } from "node:fs";

// aws-local-stepfunctions 3 wants Node 22 for Promise.withResolvers alone; older
// Node (Debian's 20) gets this standard polyfill instead.
if (!Promise.withResolvers) {
  Promise.withResolvers = function () {
    let resolve, reject;
    const promise = new this((a, b) => { resolve = a; reject = b; });
    return { promise, resolve, reject };
  };
}
const { StateMachine } = await import("aws-local-stepfunctions");

const [definitionPath, inputPath, secondsArg, subsPath] = process.argv.slice(2);
let text = readFileSync(definitionPath, "utf8");
const subs = JSON.parse(readFileSync(subsPath, "utf8"));
for (const [k, v] of Object.entries(subs)) text = text.replaceAll("${" + k + "}", v);
const definition = JSON.parse(text);
const input = JSON.parse(readFileSync(inputPath, "utf8"));

// An echo for every Task state, at any depth; the lambda:invoke integration's
// answer carries the function's result under Payload, as on AWS.
const handlers = {};
const waits = {};
let states = 0;
(function walk(states_) {
  for (const [name, s] of Object.entries(states_)) {
    states++;
    if (s.Type === "Task") {
      handlers[name] = s.Resource === "arn:aws:states:::lambda:invoke"
        ? async (i) => ({ Payload: i.Payload ?? i, StatusCode: 200 })
        : async (i) => i;
    }
    if (s.Type === "Wait") waits[name] = 0;
    for (const b of s.Branches ?? []) walk(b.States);
    const inner = s.ItemProcessor ?? s.Iterator;
    if (inner) walk(inner.States);
  }
})(definition.States);

const machine = new StateMachine(definition, {
  validationOptions: { checkPaths: false, checkArn: false },
});
// The Context Object the Rust engine builds for each execution, built here per run too.
let runs = 0;
const once = async () => {
  runs++;
  const name = `bench-${runs}`;
  const context = {
    Execution: {
      Id: `arn:aws:states:us-east-1:123456789012:execution:bench:${name}`,
      Name: name,
      Input: input,
      StartTime: new Date().toISOString(),
      RoleArn: "arn:aws:iam::123456789012:role/bench",
    },
    StateMachine: { Id: "arn:aws:states:us-east-1:123456789012:stateMachine:bench", Name: "bench" },
  };
  const exec = machine.run(input, {
    overrides: { taskResourceLocalHandlers: handlers, waitTimeOverrides: waits },
    context,
  });
  return exec.result;
};
// Warm up, and check the run succeeds (a failing run would measure nothing useful).
await once();
const seconds = Number(secondsArg);
const start = process.hrtime.bigint();
let n = 0;
for (;;) {
  await once();
  n++;
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  if (elapsed >= seconds) {
    console.log(JSON.stringify({ executions: n, seconds: elapsed, states }));
    break;
  }
}
