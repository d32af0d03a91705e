/** `import sheet from "….css" with { type: "css" }` (webpack's css-loader, exportType "css-style-sheet"). */
declare module "*.css" {
    const sheet: CSSStyleSheet;
    export default sheet;
}
