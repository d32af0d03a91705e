/**
 * @jest-environment jsdom
 */
/** The sign-in step's own logic (no network): what it offers, in which order, and what it hands on; and the approval prompt. */
import { jest } from "@jest/globals";
import React from "react";
import { fireEvent, render, screen } from "@testing-library/react";

import { englishTranslate } from "../i18n/index.ts";
import { RecoveryApproval } from "./RecoveryApproval.tsx";
import type { SignInOffer } from "./runtime.ts";
import { SignInStep } from "./SignInStep.tsx";

const offer = (methods: SignInOffer["methods"]): SignInOffer => ({ userId: "@me:hs.example", baseUrl: "https://hs.example", methods });

function renderStep(o: SignInOffer | undefined, extra: Partial<React.ComponentProps<typeof SignInStep>> = {}) {
    const events = { onFind: jest.fn(), onChoose: jest.fn(), onCancelWait: jest.fn(), onChangeAccount: jest.fn() };
    render(<SignInStep t={englishTranslate} busy={false} offer={o} {...events} {...extra} />);
    return events;
}

test("first the account; Continue asks for its server", () => {
    const events = renderStep(undefined, { initialNewUserId: "@me:hs.example" });
    fireEvent.click(screen.getByRole("button", { name: "Continue" }));
    expect(events.onFind).toHaveBeenCalledWith({ newUserId: "@me:hs.example", homeserverUrl: undefined });
});

test("methods in the server's order: OAuth 2.0 (and a code), single sign-on per provider, password; the token under Advanced", () => {
    const events = renderStep(
        offer([
            { kind: "oauth", deviceGrant: true },
            { kind: "sso", providers: [{ id: "a", name: "Company login" }, { id: "b", name: "GitLab" }] },
            { kind: "password" },
            { kind: "token" },
        ]),
    );
    const buttons = screen.getAllByRole("button").map((b) => b.textContent);
    expect(buttons.slice(0, 5)).toEqual(["Use another account", "Continue with hs.example", "Sign in with a code instead (approve on another device)", "Continue with Company login", "Continue with GitLab"]);
    expect(screen.getByText("Recommended by the new account's server:")).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: "Continue with GitLab" }));
    expect(events.onChoose).toHaveBeenLastCalledWith({ method: "sso", idpId: "b" });
    fireEvent.click(screen.getByRole("button", { name: "Sign in with a code instead (approve on another device)" }));
    expect(events.onChoose).toHaveBeenLastCalledWith({ method: "device" });
    expect(screen.getByText("Advanced: use an access token")).toBeTruthy();
});

test("a password leaves the form only with the submit, and the field is emptied then", () => {
    const events = renderStep(offer([{ kind: "password" }, { kind: "token" }]));
    const field = screen.getByLabelText("Its password") as HTMLInputElement;
    fireEvent.change(field, { target: { value: "secret" } });
    expect(events.onChoose).not.toHaveBeenCalled();
    fireEvent.click(screen.getByRole("button", { name: "Sign in to the new account" }));
    expect(events.onChoose).toHaveBeenCalledWith({ method: "password", password: "secret" });
    expect(field.value).toBe("");
});

test("while a code waits for approval: the code, a link, and Cancel", () => {
    const events = renderStep(offer([{ kind: "oauth", deviceGrant: true }, { kind: "token" }]), {
        wait: { kind: "device", prompt: { userCode: "ABCD-EFGH", verificationUri: "https://auth.example/device", verificationUriComplete: "https://auth.example/device?user_code=ABCD-EFGH", expiresAt: Date.now() + 60_000 } },
    });
    expect(screen.getByTestId("migration-device-code").textContent).toBe("ABCD-EFGH");
    expect(screen.getByRole("link", { name: "Open the approval page" }).getAttribute("href")).toBe("https://auth.example/device?user_code=ABCD-EFGH");
    expect(screen.queryByTestId("migration-sign-in-methods")).toBeNull();
    fireEvent.click(screen.getByRole("button", { name: "Cancel" }));
    expect(events.onCancelWait).toHaveBeenCalled();
});

test("recovery approval: the password for one request (field emptied), or a link to the server's page", () => {
    const onPassword = jest.fn();
    const onCancel = jest.fn();
    const { unmount } = render(<RecoveryApproval t={englishTranslate} ask={{ kind: "password" }} onPassword={onPassword} onCancel={onCancel} />);
    const field = screen.getByLabelText("Password of the new account") as HTMLInputElement;
    fireEvent.change(field, { target: { value: "secret" } });
    fireEvent.click(screen.getByRole("button", { name: "Approve" }));
    expect(onPassword).toHaveBeenCalledWith("secret");
    expect(field.value).toBe("");
    unmount();
    render(<RecoveryApproval t={englishTranslate} ask={{ kind: "page", url: "https://auth.example/account?action=org.matrix.cross_signing_reset" }} onPassword={onPassword} onCancel={onCancel} />);
    expect(screen.getByRole("link", { name: "Open the approval page" }).getAttribute("href")).toBe("https://auth.example/account?action=org.matrix.cross_signing_reset");
    fireEvent.click(screen.getByRole("button", { name: "Cancel" }));
    expect(onCancel).toHaveBeenCalled();
});
