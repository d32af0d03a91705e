export { setup as default } from "./jestGlobal.ts";
