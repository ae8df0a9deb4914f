import { readFileSync } from "node:fs";
import { join } from "node:path";
import { runSystem } from "../capture/system";
import { catalog } from "../contract/catalog";
import { FAILURE_EVENT_TYPE } from "../contract/failure-event";
import { DIAGRAM_PATH, flowDiagramSvg, type ProgramResources } from "./diagram";

/** Every catalog event (and the failure event) with its ordering: topics are labelled with their event type. */
export function diagramEventTypes(): { type: string; fifo: boolean }[] {
  return [...Object.entries(catalog).map(([type, entry]) => ({ type, fifo: entry.ordering === "fifo" })), { type: FAILURE_EVENT_TYPE, fifo: false }];
}

/**
 * The flow diagram of the repository's system: the platform and every service program run under Pulumi's mocks for
 * the `dev` stage (the wiring every stage shares), names shown without the stage.
 */
export async function generateFlowDiagram(root: string, stage = "dev", serviceDirs?: string[]): Promise<string> {
  const system = await runSystem({ root, stage, ...(serviceDirs ? { serviceDirs } : {}) });
  const programs: ProgramResources[] = [
    { project: "platform", resources: system.platform.mocks.resources },
    ...system.services.map((s) => ({ project: s.project, resources: s.run.mocks.resources })),
  ];
  return flowDiagramSvg(programs, { stage, eventTypes: diagramEventTypes() });
}

/** The committed diagram (undefined when there is none yet). */
export function readCommittedDiagram(root: string): string | undefined {
  try {
    return readFileSync(join(root, DIAGRAM_PATH), "utf8");
  } catch {
    return undefined;
  }
}
