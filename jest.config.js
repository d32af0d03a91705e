/** One jest run: unit tests, tests against two real Synapse servers, and headless-Chromium tests. */
const swc = [
    "@swc/jest",
    {
        jsc: {
            parser: { syntax: "typescript", tsx: true },
            target: "es2022",
            transform: { react: { runtime: "classic" } },
            // Keep `with { type: "json" }`: Node refuses JSON modules without it.
            experimental: { keepImportAttributes: true },
        },
        module: { type: "es6" },
    },
];

export default {
    testEnvironment: "node",
    roots: ["<rootDir>/src", "<rootDir>/tests"],
    testMatch: ["**/*.test.ts", "**/*.test.tsx"],
    transform: { "^.+\\.tsx?$": swc },
    extensionsToTreatAsEsm: [".ts", ".tsx"],
    setupFiles: ["<rootDir>/tests/bed/quietConsole.ts"],
    globalSetup: "<rootDir>/tests/bed/globalSetup.ts",
    globalTeardown: "<rootDir>/tests/bed/globalTeardown.ts",
    testTimeout: 120_000,
    // Two cores: one worker keeps Synapse, Chromium and the tests from starving each other.
    maxWorkers: 1,
    verbose: true,
    // matrix-js-sdk arms an 80-110 s abort timer for each request and never clears it (http-api/utils.ts,
    // timeoutSignal), so a stopped client still holds the process open that long. Clients and homeservers are
    // stopped by the tests and the global tear-down before this applies.
    forceExit: true,
};
