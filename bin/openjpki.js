#!/usr/bin/env node
// The openjpki command. The sources are TypeScript run through tsx, so the command
// always runs what is in src/ (no stale build to forget).
import { register } from "tsx/esm/api";

register();
const { main } = await import("../src/cli/main.ts");
process.exitCode = await main(process.argv.slice(2));
