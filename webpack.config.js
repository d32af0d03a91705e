/**
 * Builds, in one run:
 * - `module`: dist/module/index.js, the ES module Element imports (default export: the module class). React comes
 *   from the host (`window.React`); the engine, matrix-js-sdk and the crypto WASM live in lazily loaded chunks next
 *   to it (publicPath "auto": chunks load from the module's own folder wherever the admin hosts it).
 * - `host`: dist/host/, the project's own stand-in for Element (demo and browser tests; see host/src/main.tsx).
 * - `cli`: dist/cli/matrix-account-migrate.js, the headless CLI (Node 22, dependencies from node_modules).
 */
import { copyFileSync, mkdirSync, readdirSync } from "node:fs";
import path from "node:path";
import webpack from "webpack";
import { fileURLToPath } from "node:url";

const root = path.dirname(fileURLToPath(import.meta.url));

const swcRule = (target) => ({
    test: /\.tsx?$/,
    exclude: /node_modules/,
    use: {
        loader: "swc-loader",
        options: {
            jsc: {
                parser: { syntax: "typescript", tsx: true },
                target,
                transform: { react: { runtime: "classic" } },
                // Keep `with { type: "css" }`: webpack picks the constructable-stylesheet rule by it.
                experimental: { keepImportAttributes: true },
            },
        },
    },
});

/**
 * `import sheet from "….css" with { type: "css" }` gives a CSSStyleSheet (what Element's vite-built modules get), adopted
 * by the page chunk; nothing is injected into Element's document by side effect.
 */
const constructableCss = {
    test: /\.css$/,
    with: { type: "css" },
    loader: "css-loader",
    options: { exportType: "css-style-sheet", url: false, import: false },
};

const common = {
    mode: "production",
    devtool: "source-map",
    context: root,
    resolve: { extensions: [".ts", ".tsx", ".js", ".mjs", ".json"] },
    performance: { hints: false },
    stats: "errors-warnings",
};

const browser = {
    ...common,
    target: "web",
    experiments: { outputModule: true },
    resolve: {
        ...common.resolve,
        // matrix-js-sdk uses Node's "events" module; the npm package is the browser version of it.
        fallback: { events: path.join(root, "node_modules/events/events.js") },
    },
};

/** Copies the sign-in callback page next to the module's entry (its script is the "callback" entry). */
class CopyCallbackPage {
    apply(compiler) {
        compiler.hooks.afterEmit.tap("CopyCallbackPage", () => {
            copyFileSync(path.join(root, "src/element/callback.html"), path.join(root, "dist/module/callback.html"));
        });
    }
}

/**
 * Copies the host's static files next to its bundle (no plugin dependency for a few files), and Compound's theme CSS
 * (light, dark, high contrast), which Element itself puts on the page; the module must not ship token values.
 */
class CopyHostStatics {
    apply(compiler) {
        compiler.hooks.afterEmit.tap("CopyHostStatics", () => {
            const out = path.join(root, "dist/host");
            mkdirSync(path.join(out, "cpd"), { recursive: true });
            for (const file of ["index.html", "host.css"])
                copyFileSync(path.join(root, "host", file), path.join(out, file));
            const tokens = path.join(root, "node_modules/@vector-im/compound-design-tokens/assets/web/css");
            for (const file of readdirSync(tokens)) copyFileSync(path.join(tokens, file), path.join(out, "cpd", file));
        });
    }
}

export default [
    {
        ...browser,
        name: "module",
        // callback: the sign-in popup's landing page script (callback.html), tiny and separate from the entry.
        entry: {
            index: "./src/index.ts",
            callback: { import: "./src/element/signInCallback.ts", library: { type: "module" } },
        },
        output: {
            path: path.join(root, "dist/module"),
            filename: "[name].js",
            chunkFilename: "chunks/[name].[contenthash:8].js",
            assetModuleFilename: "assets/[name].[contenthash:8][ext]",
            library: { type: "module" },
            module: true,
            publicPath: "auto",
            clean: true,
        },
        externalsType: "window",
        externals: { react: "React" },
        module: { rules: [swcRule("es2022"), constructableCss] },
        plugins: [new CopyCallbackPage()],
    },
    {
        ...browser,
        name: "host",
        entry: { host: "./host/src/main.tsx" },
        output: {
            path: path.join(root, "dist/host"),
            filename: "[name].js",
            chunkFilename: "chunks/[name].[contenthash:8].js",
            assetModuleFilename: "assets/[name].[contenthash:8][ext]",
            module: true,
            publicPath: "auto",
            clean: true,
        },
        module: { rules: [swcRule("es2022")] },
        plugins: [new CopyHostStatics()],
    },
    {
        ...common,
        name: "cli",
        target: "node22",
        entry: { "matrix-account-migrate": "./src/cli/bin.ts" },
        experiments: { outputModule: true },
        output: {
            path: path.join(root, "dist/cli"),
            filename: "[name].js",
            chunkFilename: "chunks/[name].[contenthash:8].js",
            module: true,
            chunkFormat: "module",
            library: { type: "module" },
            clean: true,
        },
        // Packages stay in node_modules (matrix-js-sdk loads its crypto WASM from its own folder).
        externalsPresets: { node: true },
        externals: [
            ({ request }, callback) =>
                /^[a-z@][^:]*$/.test(request) && !request.startsWith(".")
                    ? callback(null, `module ${request}`)
                    : callback(),
        ],
        optimization: { minimize: false },
        module: { rules: [swcRule("es2022")] },
        plugins: [new webpack.BannerPlugin({ banner: "#!/usr/bin/env node", raw: true, entryOnly: true })],
    },
];
