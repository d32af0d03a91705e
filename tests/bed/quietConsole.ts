/**
 * matrix-js-sdk logs every request (debug/info) and many harmless warnings through `console`; that drowns test
 * output. Its lines are dropped unless MIGRATE_SDK_LOG=debug; the project's own warnings and errors still show.
 */
if (process.env.MIGRATE_SDK_LOG !== "debug") {
    const fromSdk = () => /node_modules\/matrix-js-sdk\//.test(new Error().stack ?? "");
    for (const level of ["debug", "info", "log", "warn"] as const) {
        const original = console[level].bind(console);
        console[level] = (...args: unknown[]) => {
            if (level !== "debug" && level !== "info" && !fromSdk()) original(...args);
        };
    }
}
