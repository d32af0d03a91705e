/** Entry of the `matrix-account-migrate` executable. */
import { main } from "./main.ts";
import { routeSdkLog } from "./sdkLog.ts";

// Before anything signs in or syncs: the SDK's debug log never reaches the person's terminal.
routeSdkLog(process.env.MIGRATE_DEBUG_LOG || undefined);

// matrix-js-sdk-free, but fetch keep-alive sockets and timers may linger: exit explicitly with the result.
main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
        process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
        process.exit(1);
    },
);
