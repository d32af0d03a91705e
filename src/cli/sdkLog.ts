/**
 * matrix-js-sdk logs through `loglevel` at debug level straight to the console (request lines such as
 * "OAuth2: --> POST …", sync and crypto chatter). A person at the terminal needs the sign-in line, progress and the
 * summary, not a library's log: the CLI routes that log away — to nowhere, or with MIGRATE_DEBUG_LOG=FILE appended
 * to that file (created 0600: the lines name servers and rooms, though the SDK strips tokens from request URLs).
 */
import { appendFileSync } from "node:fs";
import { format } from "node:util";

import { logger } from "matrix-js-sdk/lib/logger.js";

type LogFactory = (methodName: string) => (...args: unknown[]) => void;

/** Routes the SDK's root logger (and every child logger made after this, which copy its factory) to `file`. */
export function routeSdkLog(file: string | undefined): void {
    const factory: LogFactory = (methodName) => {
        if (!file) return () => undefined;
        return (...args) => {
            try {
                appendFileSync(file, `${new Date().toISOString()} ${methodName} ${format(...args)}\n`, {
                    mode: 0o600,
                });
            } catch {
                // A debug log that cannot be written must not stop a migration.
            }
        };
    };
    const root = logger as unknown as { methodFactory: LogFactory; rebuild(): void };
    root.methodFactory = factory;
    root.rebuild();
}
