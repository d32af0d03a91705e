/**
 * The only place that reaches Element's logged-in MatrixClient. The module API exposes no client, so this uses
 * Element's global `window.mxMatrixClientPeg` (Element's own modules do the same as a stop-gap) and degrades to
 * `null` when it is absent or not logged in yet.
 */
import type { MatrixClient } from "matrix-js-sdk/lib/matrix.js";

/** The part of Element's MatrixClientPegClass this module uses (Element also has safeGet, set, unset, …). */
interface MatrixClientPeg {
    get(): MatrixClient | null;
    safeGet?(): MatrixClient;
}

declare global {
    interface Window {
        mxMatrixClientPeg?: MatrixClientPeg;
    }
}

export function getLoggedInClient(): MatrixClient | null {
    try {
        const peg = window.mxMatrixClientPeg;
        if (!peg || typeof peg.get !== "function") return null;
        return peg.get() ?? null;
    } catch {
        return null;
    }
}
