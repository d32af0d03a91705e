/** Entry of the `matrix-account-migrate` executable. */
import { main } from "./main.ts";

// matrix-js-sdk-free, but fetch keep-alive sockets and timers may linger: exit explicitly with the result.
main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
        process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
        process.exit(1);
    },
);
