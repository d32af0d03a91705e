/**
 * `npm pack` (through `prepack`) and `npm run release`: builds what the release tarball holds.
 * - dist/module/: the module Element loads (webpack, as `npm run build` makes it).
 * - dist/bin/matrix-account-migrate.js: the CLI as one file with every runtime package in it, so that
 *   `npm install <tarball>` needs no registry and installs no dependency. matrix-js-sdk's Rust crypto loads its WASM
 *   from its own package folder, which a bundle does not have: the WASM is embedded (gzip, base64) and compiled from
 *   memory the first time crypto is used, so `--help` and sign-in never pay for it.
 * With `--bundle-only`, dist/module/ is taken as it is (the tests run after `npm test`'s own build).
 */
import { execFileSync } from "node:child_process";
import { chmodSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { gzipSync } from "node:zlib";

import { build, type Plugin } from "esbuild";

const root = path.resolve(import.meta.dirname, "..");
const WASM_PACKAGE = "@matrix-org/matrix-sdk-crypto-wasm";
const wasmDir = path.join(root, "node_modules", WASM_PACKAGE, "pkg");

/** Replaces the crypto package's Node entry (which reads its .wasm from disk) by one holding the bytes itself. */
const embeddedCryptoWasm: Plugin = {
    name: "embedded-crypto-wasm",
    setup(b) {
        b.onResolve({ filter: /^@matrix-org\/matrix-sdk-crypto-wasm$/ }, () => ({
            path: "embedded-crypto-wasm",
            namespace: "embedded-crypto-wasm",
        }));
        b.onLoad({ filter: /.*/, namespace: "embedded-crypto-wasm" }, () => {
            const wasm = gzipSync(readFileSync(path.join(wasmDir, "matrix_sdk_crypto_wasm_bg.wasm")), { level: 9 });
            const bindings = JSON.stringify(path.join(wasmDir, "matrix_sdk_crypto_wasm_bg.js"));
            return {
                resolveDir: root,
                loader: "js",
                contents: `
import { gunzipSync } from "node:zlib";
import * as bindings from ${bindings};
const packed = ${JSON.stringify(wasm.toString("base64"))};
let exports;
// Compiled on first use: the bindings ask this object for the WASM's exports.
function instance() {
    if (!exports) {
        const module = new WebAssembly.Module(gunzipSync(Buffer.from(packed, "base64")));
        exports = new WebAssembly.Instance(module, { "./matrix_sdk_crypto_wasm_bg.js": bindings }).exports;
        bindings.__wbg_set_wasm(exports);
        exports.__wbindgen_start();
    }
    return exports;
}
bindings.__wbg_set_wasm(new Proxy({}, { get: (_, name) => instance()[name] }));
export async function initAsync() {
    instance();
}
export * from ${bindings};
`,
            };
        });
    },
};

if (!process.argv.includes("--bundle-only"))
    execFileSync("webpack", ["--config-name", "module"], { cwd: root, stdio: "inherit" });

const outfile = path.join(root, "dist", "bin", "matrix-account-migrate.js");
rmSync(path.dirname(outfile), { recursive: true, force: true });
await build({
    absWorkingDir: root,
    entryPoints: ["src/cli/bin.ts"],
    outfile,
    bundle: true,
    platform: "node",
    target: "node22",
    format: "esm",
    // Packages written as CommonJS call require() for Node's own modules; an ES module has none of its own.
    banner: {
        js: '#!/usr/bin/env node\nimport { createRequire as __createRequire } from "node:module";\nconst require = __createRequire(import.meta.url);',
    },
    plugins: [embeddedCryptoWasm],
    legalComments: "eof",
    logLevel: "warning",
});
chmodSync(outfile, 0o755);
