export { teardown as default } from "./jestGlobal.ts";
