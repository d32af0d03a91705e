/**
 * @jest-environment jsdom
 */
/**
 * The sign-in step's own logic (no network): the account first, then exactly the methods its server offers in its
 * order, the waits, errors at the field they concern, focus following the step, a continued migration's locked
 * account; and the recovery approval prompt.
 */
import { jest } from "@jest/globals";
import React from "react";
import { cleanup, fireEvent, render as renderBare, screen, within } from "@testing-library/react";
import { TooltipProvider } from "@vector-im/compound-web";

import { englishTranslate } from "../i18n/index.ts";
import type { UnfinishedRun } from "./MigrationController.ts";
import { RecoveryApproval } from "./RecoveryApproval.tsx";
import type { RuntimeError, SignInOffer } from "./runtime.ts";
import { type SignInStage, SignInStep, type SignInStepProps } from "./SignInStep.tsx";

const render = (ui: React.ReactElement) => renderBare(ui, { wrapper: TooltipProvider });

const offer = (methods: SignInOffer["methods"]): SignInOffer => ({
    userId: "@me:hs.example",
    baseUrl: "https://hs.example",
    methods,
});
const ALL_METHODS: SignInOffer["methods"] = [
    { kind: "oauth", deviceGrant: true },
    {
        kind: "sso",
        providers: [
            { id: "a", name: "Company login" },
            { id: "b", name: "GitLab" },
        ],
    },
    { kind: "password" },
    { kind: "token" },
];
const run: UnfinishedRun = {
    newUserId: "@me:hs.example",
    startedAt: 1,
    roomsDone: 3,
    choices: { rooms: ["!a", "!b", "!c", "!d"], options: {} as never, settings: [] },
};

function props(stage: Partial<SignInStage>, extra: Partial<SignInStepProps> = {}): SignInStepProps {
    return {
        t: englishTranslate,
        oldUserId: "@old:a.example",
        stage: { name: "sign-in", ...stage },
        busy: false,
        unfinished: [],
        onContinue: jest.fn(),
        onFind: jest.fn(),
        onChoose: jest.fn(),
        onCancelWait: jest.fn(),
        onChangeAccount: jest.fn(),
        ...extra,
    };
}

function renderStep(stage: Partial<SignInStage>, extra: Partial<SignInStepProps> = {}) {
    const p = props(stage, extra);
    const view = render(<SignInStep {...p} />);
    return { ...p, rerender: (next: SignInStepProps) => view.rerender(<SignInStep {...next} />) };
}

const error = (code: string, message = `detail of ${code}`): RuntimeError => ({ code, message });

test("first the account alone; Continue looks up its server (no homeserver field until one is needed)", () => {
    const p = renderStep({}, { initialNewUserId: " @me:hs.example " });
    expect(screen.queryByTestId("migration-sign-in-methods")).toBeNull();
    expect(screen.queryByRole("textbox", { name: "Its homeserver address" })).toBeNull();
    fireEvent.click(screen.getByRole("button", { name: "Continue" }));
    expect(p.onFind).toHaveBeenCalledWith({ newUserId: "@me:hs.example", homeserverUrl: undefined });
});

test("no .well-known: the homeserver field opens under the account field with the error under it, and takes the focus", () => {
    const p = renderStep({ target: { newUserId: "@me:hs.example" } }, { error: error("no-well-known") });
    const homeserver = screen.getByRole("textbox", { name: "Its homeserver address" });
    expect(homeserver.getAttribute("aria-invalid")).toBe("true");
    expect(document.activeElement).toBe(homeserver);
    // The message is the field's own (read with it), the technical detail folded away inside it.
    const message = screen.getByTestId("migration-error");
    expect(homeserver.closest("form")!.contains(message)).toBe(true);
    expect(homeserver.getAttribute("aria-describedby")).toContain(message.id);
    expect(message.textContent).toMatch(
        /^The new account's homeserver could not be found from its name\. .*Technical detailsdetail of no-well-known$/,
    );
    expect(screen.queryByRole("alert")).toBeNull();
    fireEvent.change(homeserver, { target: { value: " https://matrix.hs.example " } });
    fireEvent.click(screen.getByRole("button", { name: "Continue" }));
    expect(p.onFind).toHaveBeenCalledWith({ newUserId: "@me:hs.example", homeserverUrl: "https://matrix.hs.example" });
});

test("an account that is not one: the error under the account field", () => {
    renderStep({}, { initialNewUserId: "me", error: error("bad-user-id") });
    const account = screen.getByRole("textbox", { name: "New account" });
    expect(account.getAttribute("aria-invalid")).toBe("true");
    expect(screen.getByTestId("migration-error").textContent).toContain("This is not a Matrix account.");
    expect(document.activeElement).toBe(account);
});

test("methods in the server's order: OAuth 2.0 (and a code), single sign-on per provider, password; the token under Advanced", () => {
    const p = renderStep({ offer: offer(ALL_METHODS) });
    const methods = screen.getByTestId("migration-sign-in-methods");
    const names = within(methods)
        .getAllByRole("button")
        .map((b) => b.textContent)
        // The fields' show/hide actions are icons.
        .filter(Boolean);
    expect(names).toEqual([
        "Continue with hs.example",
        "Sign in with a code instead (approve on another device)",
        "Continue with Company login",
        "Continue with GitLab",
        "Sign in to the new account",
        "Use this access token",
    ]);
    expect(within(methods).getByText("Recommended by the new account's server:")).toBeTruthy();
    // The account looked up, and a way back to change it, outside the methods.
    expect(screen.getByText("@me:hs.example — homeserver https://hs.example.")).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: "Use another account" }));
    expect(p.onChangeAccount).toHaveBeenCalled();
    fireEvent.click(screen.getByRole("button", { name: "Continue with hs.example" }));
    expect(p.onChoose).toHaveBeenLastCalledWith({ method: "oauth" });
    fireEvent.click(screen.getByRole("button", { name: "Continue with GitLab" }));
    expect(p.onChoose).toHaveBeenLastCalledWith({ method: "sso", idpId: "b" });
    fireEvent.click(screen.getByRole("button", { name: "Sign in with a code instead (approve on another device)" }));
    expect(p.onChoose).toHaveBeenLastCalledWith({ method: "device" });
    expect(within(methods).getByText("Advanced: use an access token").tagName).toBe("SUMMARY");
});

test("only what is offered: a password-only server shows no other method, and no recommendation to choose from", () => {
    renderStep({ offer: offer([{ kind: "password" }, { kind: "token" }]) });
    const methods = screen.getByTestId("migration-sign-in-methods");
    expect(within(methods).queryByText("Recommended by the new account's server:")).toBeNull();
    expect(within(methods).queryByRole("button", { name: /^Continue with/ })).toBeNull();
    expect(screen.getByRole("button", { name: "Sign in to the new account" })).toBeTruthy();
});

test("a server offering nothing usable says so; the access token stays possible", () => {
    renderStep({ offer: offer([{ kind: "token" }]) });
    expect(screen.getByText(/hs\.example offers no way of signing in that this page supports/)).toBeTruthy();
    // Nothing else to choose: "Advanced" is open.
    expect(screen.getByLabelText("Access token of the new account").closest("details")!.open).toBe(true);
});

test("a password or token leaves the form only with its submit, and its field is emptied then", () => {
    const p = renderStep({ offer: offer(ALL_METHODS) });
    const password = screen.getByLabelText("Password of the new account") as HTMLInputElement;
    expect(password.name).toBe("newPassword");
    fireEvent.change(password, { target: { value: "secret" } });
    expect(p.onChoose).not.toHaveBeenCalled();
    fireEvent.click(screen.getByRole("button", { name: "Sign in to the new account" }));
    expect(p.onChoose).toHaveBeenCalledWith({ method: "password", password: "secret" });
    expect(password.value).toBe("");
    const token = screen.getByLabelText("Access token of the new account") as HTMLInputElement;
    fireEvent.change(token, { target: { value: " syt_token " } });
    fireEvent.click(screen.getByRole("button", { name: "Use this access token" }));
    expect(p.onChoose).toHaveBeenLastCalledWith({ method: "token", accessToken: "syt_token" });
    expect(token.value).toBe("");
});

test("a wrong password: the error under the password field, which takes the focus; other errors as an alert", () => {
    const p = renderStep({ offer: offer(ALL_METHODS) }, { error: error("wrong-password") });
    const password = screen.getByLabelText("Password of the new account");
    expect(password.getAttribute("aria-invalid")).toBe("true");
    expect(document.activeElement).toBe(password);
    expect(screen.getByTestId("migration-error").textContent).toContain("Wrong password for the new account.");
    expect(screen.queryByRole("alert")).toBeNull();
    p.rerender({ ...p, error: error("wrong-account", "signed in @other:hs.example, not @me:hs.example") });
    expect(screen.getByRole("alert").textContent).toContain(
        "That signed in a different account, so it was signed out again.",
    );
    expect(screen.getByTestId("migration-error").textContent).toContain("@other:hs.example");
    expect(screen.getByLabelText("Password of the new account").getAttribute("aria-invalid")).toBeNull();
});

test("focus follows the step: to the methods once the account is found, to the wait, back to the methods", () => {
    const p = renderStep({}, { initialNewUserId: "@me:hs.example" });
    p.rerender({ ...p, stage: { name: "sign-in", offer: offer(ALL_METHODS) } });
    expect(document.activeElement).toBe(screen.getByRole("heading", { name: "How to sign in to the new account" }));
    p.rerender({ ...p, stage: { name: "sign-in", offer: offer(ALL_METHODS), wait: { kind: "popup" } } });
    expect(document.activeElement).toBe(screen.getByRole("heading", { name: "Signing in" }));
    p.rerender({ ...p, stage: { name: "sign-in", offer: offer(ALL_METHODS) } });
    expect(document.activeElement).toBe(screen.getByRole("heading", { name: "How to sign in to the new account" }));
});

test("while a popup is open: a note and Cancel, no methods and no way to change the account", () => {
    const p = renderStep({ offer: offer(ALL_METHODS), wait: { kind: "popup" } });
    expect(
        within(screen.getByTestId("migration-sign-in-waiting")).getByText(
            "Finish signing in in the window that opened. This page continues by itself.",
        ),
    ).toBeTruthy();
    expect(screen.queryByTestId("migration-sign-in-methods")).toBeNull();
    expect(screen.queryByRole("button", { name: "Use another account" })).toBeNull();
    fireEvent.click(screen.getByRole("button", { name: "Cancel" }));
    expect(p.onCancelWait).toHaveBeenCalled();
});

test("while a code waits for approval: the code, a link to approve it, where else to enter it, and Cancel", () => {
    const p = renderStep({ offer: offer(ALL_METHODS), wait: { kind: "device" } });
    expect(screen.getByText("Asking the server for a code…")).toBeTruthy();
    p.rerender({
        ...p,
        stage: {
            name: "sign-in",
            offer: offer(ALL_METHODS),
            wait: {
                kind: "device",
                prompt: {
                    userCode: "ABCD-EFGH",
                    verificationUri: "https://auth.example/device",
                    verificationUriComplete: "https://auth.example/device?user_code=ABCD-EFGH",
                    expiresAt: Date.now() + 60_000,
                },
            },
        },
    });
    expect(screen.getByTestId("migration-device-code").textContent).toBe("ABCD-EFGH");
    const link = screen.getByRole("link", { name: "Open the approval page" });
    expect(link.getAttribute("href")).toBe("https://auth.example/device?user_code=ABCD-EFGH");
    expect(link.getAttribute("target")).toBe("_blank");
    expect(screen.getByText("Or go to https://auth.example/device on another device and enter the code.")).toBeTruthy();
    // The code is announced as it arrives.
    expect(screen.getByTestId("migration-device-code").closest("[aria-live=polite]")).not.toBeNull();
    fireEvent.click(screen.getByRole("button", { name: "Cancel" }));
    expect(p.onCancelWait).toHaveBeenCalled();
});

test("issue 15.7: an unfinished migration running on another device is said to be running there, with no Continue", () => {
    const p = renderStep({}, { unfinished: [{ ...run, elsewhere: { deviceId: "CLIDEVICE", heartbeatAt: 1 } }] });
    const notice = screen.getByTestId("migration-running-elsewhere");
    expect(notice.textContent).toContain("A migration is running on another device");
    expect(notice.textContent).toContain(
        "Moving to @me:hs.example is running right now on another device or in the command-line tool (3 of 4 rooms so far).",
    );
    expect(screen.queryByRole("button", { name: "Continue moving to @me:hs.example" })).toBeNull();
    expect(screen.queryByText("A migration was interrupted")).toBeNull();
    p.rerender({ ...p, unfinished: [run] });
    expect(screen.getByRole("button", { name: "Continue moving to @me:hs.example" })).toBeTruthy();
});

test("continuing an interrupted migration: the journal's account, locked; another account only by leaving the continuation", () => {
    const p = renderStep({ continuing: run });
    expect(screen.getByRole("heading", { name: "Continue moving to @me:hs.example" })).toBeTruthy();
    const account = screen.getByRole("textbox", { name: "New account" }) as HTMLInputElement;
    expect(account.value).toBe("@me:hs.example");
    expect(account.readOnly).toBe(true);
    p.rerender({
        ...p,
        stage: { name: "sign-in", continuing: run, offer: offer([{ kind: "password" }, { kind: "token" }]) },
    });
    expect(screen.queryByRole("button", { name: "Use another account" })).toBeNull();
    fireEvent.click(screen.getByRole("button", { name: "Move to a different account instead" }));
    expect(p.onContinue).toHaveBeenCalledWith(undefined);
});

test("unfinished migrations from the journal are offered before an account is typed", () => {
    const p = renderStep({}, { unfinished: [run] });
    fireEvent.click(screen.getByRole("button", { name: "Continue moving to @me:hs.example" }));
    expect(p.onContinue).toHaveBeenCalledWith(run);
    expect(screen.getByText(/stopped after 3 of 4 rooms/)).toBeTruthy();
});

test("recovery approval: the password for one request (field emptied, focused first), or a link to the server's page; Cancel", () => {
    const onPassword = jest.fn();
    const onCancel = jest.fn();
    const { unmount } = render(
        <RecoveryApproval
            t={englishTranslate}
            ask={{ kind: "password" }}
            onPassword={onPassword}
            onCancel={onCancel}
        />,
    );
    const field = screen.getByLabelText("Password of the new account") as HTMLInputElement;
    expect(document.activeElement).toBe(field);
    fireEvent.click(screen.getByRole("button", { name: "Approve" }));
    expect(onPassword).not.toHaveBeenCalled();
    fireEvent.change(field, { target: { value: "secret" } });
    fireEvent.click(screen.getByRole("button", { name: "Approve" }));
    expect(onPassword).toHaveBeenCalledWith("secret");
    expect(field.value).toBe("");
    unmount();
    render(
        <RecoveryApproval
            t={englishTranslate}
            ask={{ kind: "page", url: "https://auth.example/account?action=org.matrix.cross_signing_reset" }}
            onPassword={onPassword}
            onCancel={onCancel}
        />,
    );
    const link = screen.getByRole("link", { name: "Open the approval page" });
    expect(link.getAttribute("href")).toBe("https://auth.example/account?action=org.matrix.cross_signing_reset");
    expect(document.activeElement).toBe(link);
    fireEvent.click(screen.getByRole("button", { name: "Cancel" }));
    expect(onCancel).toHaveBeenCalled();
    expect(screen.getByTestId("migration-recovery-approval")).toBeTruthy();
});

test("issue 15.1: a server's address that is not https (or loopback http) never becomes a link — not the approval page of a code, not a recovery approval page", () => {
    renderStep({
        offer: offer(ALL_METHODS),
        wait: {
            kind: "device",
            prompt: {
                userCode: "ABCD-EFGH",
                verificationUri: "javascript:alert(document.domain)",
                verificationUriComplete: "data:text/html,<script>alert(1)</script>",
                expiresAt: Date.now() + 60_000,
            },
        },
    });
    expect(screen.getByTestId("migration-device-code").textContent).toBe("ABCD-EFGH");
    expect(screen.queryAllByRole("link")).toEqual([]);
    cleanup();
    render(
        <RecoveryApproval
            t={englishTranslate}
            ask={{ kind: "page", url: "javascript:alert(document.domain)" }}
            onPassword={jest.fn()}
            onCancel={jest.fn()}
        />,
    );
    expect(screen.queryAllByRole("link")).toEqual([]);
    expect(document.querySelector("[href^='javascript:']")).toBeNull();
    expect(
        screen.getByText(
            "The new account's server gave an address that is not safe to open (only https addresses are used), so this page refused it. Nothing was opened or signed in.",
        ),
    ).toBeTruthy();
});
