/**
 * The approval of new cross-signing keys (user-interactive auth) with a server that names its approval page: the page
 * is opened only when its address is https (or http on loopback) — issue 15.1. Pure logic: the upload is a stand-in
 * that answers like a server asking for approval.
 */
import { jest } from "@jest/globals";

import { type ServerApproval, uploadWithApproval } from "./recoverySetup.ts";

/** An upload the server answers with a 401 asking for `stage`, naming `url` as its page. */
function askingFor(stage: string, url: string) {
    return jest.fn(async () => {
        throw Object.assign(new Error("approval needed"), {
            httpStatus: 401,
            data: { session: "S", flows: [{ stages: [stage] }], params: { [stage]: { url } } },
        });
    });
}

const approval = (): ServerApproval & { openPage: jest.Mock } => ({
    askPassword: async () => null,
    openPage: jest.fn(),
    signal: AbortSignal.abort(),
});

test.each([
    ["m.oauth", "javascript:opener.mxMatrixClientPeg.get().getAccessToken()"],
    ["org.matrix.cross_signing_reset", "data:text/html,<script>alert(1)</script>"],
    ["m.oauth", "http://auth.example/account"],
])("issue 15.1: an approval page %s at %s is refused with a clear error and never opened", async (stage, url) => {
    const ask = approval();
    await expect(
        uploadWithApproval(askingFor(stage, url), "https://hs.example", "@me:hs.example", ask),
    ).rejects.toMatchObject({
        code: "unsafe-url",
        message: expect.stringMatching(/its approval page \(m\.oauth\) that this tool will not open/),
    });
    expect(ask.openPage).not.toHaveBeenCalled();
});

test("an https approval page is opened (and waited for)", async () => {
    const ask = approval();
    await expect(
        uploadWithApproval(
            askingFor("m.oauth", "https://auth.example/account"),
            "https://hs.example",
            "@me:hs.example",
            ask,
        ),
    ).rejects.toMatchObject({ code: "approval_needed" });
    expect(ask.openPage).toHaveBeenCalledWith("https://auth.example/account");
});
