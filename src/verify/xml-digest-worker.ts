// The XML digest worker's entry: one job at a time from the pool in xml-digests.ts.
import { parentPort } from "node:worker_threads";
import { checkXmlDigests } from "./xml-digest-check.ts";

export interface DigestJob {
  id: number;
  xml: string;
  publicKeyPem: string;
}

parentPort?.on("message", (job: DigestJob) => {
  parentPort!.postMessage({ id: job.id, ...checkXmlDigests(job.xml, job.publicKeyPem) });
});
