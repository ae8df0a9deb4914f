import type { GeneratorDefinition } from "../lib/generator";
import { consumer } from "./consumer";
import { entity } from "./entity";
import { event } from "./event";
import { migration } from "./relational";
import { route } from "./route";
import { service } from "./service";
import { workflow } from "./workflow";

/** Every generator, by the name `npm run new-<name>` and `plop <name>` use. */
export const definitions: GeneratorDefinition[] = [service, event, consumer, entity, route, workflow, migration];
