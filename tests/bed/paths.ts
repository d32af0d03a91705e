import path from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root, found from this file's place (tests/bed/). */
export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
export const BED_STATE_ROOT = path.join(PROJECT_ROOT, ".cache", "bed");
