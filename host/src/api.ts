/**
 * The host's implementation of the module API (`Api` from @element-hq/element-web-module-api), following what
 * Element Web does in apps/web/src/modules/ for the parts this project's module uses. Parts Element has but this
 * host does not need throw a clear error, so a module relying on them fails loudly here instead of silently.
 */
import { createRoot, type Root } from "react-dom/client";
import {
    type AccountDataApi,
    type Api,
    type Config,
    type CustomComposerPreviewRenderFunction,
    type DialogHandle,
    type DialogOptions,
    type DialogProps,
    type LocationRenderFunction,
    type Profile,
    type SpacePanelItemProps,
    type Translations,
    Watchable,
} from "@element-hq/element-web-module-api";
import React, { type ComponentType } from "react";
import { ClientEvent, type MatrixClient, type MatrixEvent } from "matrix-js-sdk";

import { type HostEvents, hostEvents } from "./events.ts";

function unsupported(what: string): never {
    throw new Error(`${what} is not implemented by the project's test host`);
}

/** Element's i18n: `%(name)s` substitution, current language then English, then the key itself. */
class HostI18n {
    private readonly strings = new Map<string, Record<string, string>>();
    /** Element's language setting; here `?lang=` on the host page's URL. */
    public readonly language = new URLSearchParams(window.location.search).get("lang") ?? "en";

    public register = (translations: Partial<Translations>): void => {
        for (const [key, byLang] of Object.entries(translations)) {
            if (byLang) this.strings.set(key, { ...this.strings.get(key), ...byLang });
        }
    };

    public translate = (key: string, vars?: Record<string, unknown>): string => {
        const byLang = this.strings.get(key);
        const text = byLang?.[this.language] ?? byLang?.en ?? key;
        return text.replace(/%\((\w+)\)s/g, (whole, name: string) =>
            vars && name in vars ? String(vars[name]) : whole,
        );
    };

    public humanizeTime = (ms: number): string => `${Math.round((Date.now() - ms) / 60000)} minutes ago`;
}

/** Element's AccountDataApi: a fresh Watchable per get(), updated from the sync echo while watched. */
class HostAccountData implements AccountDataApi {
    public constructor(private readonly client: () => MatrixClient) {}

    public get(eventType: string): Watchable<unknown> {
        const client = this.client();
        const watchable = new (class extends Watchable<unknown> {
            private readonly onEvent = (event: MatrixEvent) => {
                if (event.getType() === eventType) this.value = event.getContent();
            };
            protected override onFirstWatch(): void {
                client.on(ClientEvent.AccountData, this.onEvent);
            }
            protected override onLastWatch(): void {
                client.off(ClientEvent.AccountData, this.onEvent);
            }
        })(client.getAccountData(eventType as never)?.getContent());
        return watchable;
    }

    public async set(eventType: string, content: unknown): Promise<void> {
        await this.client().setAccountData(eventType as never, content as never);
    }

    public async delete(eventType: string): Promise<void> {
        await this.client().deleteAccountData(eventType as never);
    }
}

export interface HostState {
    client: MatrixClient | null;
}

export class HostApi implements Partial<Api> {
    public readonly i18n = new HostI18n();
    public readonly profile = new Watchable<Profile>({ isGuest: false });
    public readonly locationRenderers = new Map<string, LocationRenderFunction>();
    public readonly spacePanelItems = new Map<string, SpacePanelItemProps>();
    public readonly composerPreviews: Array<{
        filter: (text: string, roomId: string) => boolean;
        render: CustomComposerPreviewRenderFunction;
    }> = [];
    public readonly rootNode = document.getElementById("matrixchat")!;
    public readonly events: HostEvents = hostEvents;

    public constructor(
        private readonly configJson: Config,
        private readonly state: HostState,
    ) {}

    public readonly config = {
        get: ((key?: keyof Config) =>
            key === undefined ? this.configJson : this.configJson[key]) as Api["config"]["get"],
    };

    public readonly navigation = {
        registerLocationRenderer: (path: string, renderer: LocationRenderFunction): void => {
            this.locationRenderers.set(path, renderer);
        },
        openRoom: (roomIdOrAlias: string): void => {
            window.location.hash = `#/room/${encodeURIComponent(roomIdOrAlias)}`;
        },
        toMatrixToLink: async (link: string): Promise<void> => {
            const target = /#\/([!#][^?]+)/.exec(link)?.[1];
            if (target) this.navigation.openRoom(decodeURIComponent(target));
        },
    };

    public readonly extras = {
        setSpacePanelItem: (key: string, props: SpacePanelItemProps): void => {
            this.spacePanelItems.set(key, props);
            this.events.emit("spacePanelItemsChanged");
        },
        getVisibleRoomBySpaceKey: (): void => unsupported("extras.getVisibleRoomBySpaceKey"),
        addRoomHeaderButtonCallback: (): void => unsupported("extras.addRoomHeaderButtonCallback"),
    };

    public readonly customComponents = {
        registerComposerPreview: (
            filter: (text: string, roomId: string) => boolean,
            render: CustomComposerPreviewRenderFunction,
        ): void => {
            this.composerPreviews.push({ filter, render });
        },
        registerMessageRenderer: (): void => unsupported("customComponents.registerMessageRenderer"),
        registerRoomPreviewBar: (): void => unsupported("customComponents.registerRoomPreviewBar"),
        registerLoginComponent: (): void => unsupported("customComponents.registerLoginComponent"),
    };

    public readonly composer = {
        insertPlaintextIntoComposer: (text: string): void => {
            this.events.emit("insertIntoComposer", text);
        },
        addFileUploadOption: (): void => unsupported("composer.addFileUploadOption"),
        openFileUploadConfirmation: (): void => unsupported("composer.openFileUploadConfirmation"),
    };

    public readonly client = {
        accountData: new HostAccountData(() => {
            if (!this.state.client) throw new Error("Not logged in");
            return this.state.client;
        }),
        getRoom: (id: string) => {
            const room = this.state.client?.getRoom(id);
            if (!room) return null;
            return {
                id: room.roomId,
                name: new Watchable(room.name),
                getLastActiveTimestamp: () => room.getLastActiveTimestamp(),
            };
        },
        creationManagement: {
            setX509ClientInitOpts: (): void => unsupported("client.creationManagement"),
            setUserVerificationCaCertsPem: (): void => unsupported("client.creationManagement"),
        },
    };

    /** Element renders its RoomAvatar here; the stand-in draws the room's initial in a circle. */
    public readonly builtins = {
        renderRoomAvatar: (roomId: string, size = "32px"): React.ReactNode => {
            const room = this.state.client?.getRoom(roomId);
            if (!room) throw new Error(`No such room: ${roomId}`);
            const initial = (room.name.replace(/^[#!@]/, "")[0] ?? "?").toUpperCase();
            return React.createElement(
                "span",
                { className: "mx_HostAvatar", style: { width: size, height: size } },
                initial,
            );
        },
        renderRoomView: (): never => unsupported("builtins.renderRoomView"),
        renderNotificationDecoration: (): never => unsupported("builtins.renderNotificationDecoration"),
    };

    public readonly storageHelper = { getPickleKey: async (): Promise<string | null> => null };
    public readonly settings = { getValue: (): undefined => undefined };

    public openDialog<M, P extends object>(
        options: DialogOptions,
        Dialog: ComponentType<P & DialogProps<M>>,
        props: P,
    ): DialogHandle<M> {
        let finish!: (result: { ok: boolean; model: M | null }) => void;
        const finished = new Promise<{ ok: boolean; model: M | null }>((resolve) => (finish = resolve));
        const close = () => {
            this.events.emit("closeDialog", id);
            finish({ ok: false, model: null });
        };
        const id = `${Date.now()}-${Math.random()}`;
        this.events.emit("openDialog", {
            id,
            title: options.title,
            Component: Dialog as ComponentType<Record<string, unknown>>,
            props: {
                ...props,
                onSubmit: (model: M) => {
                    this.events.emit("closeDialog", id);
                    finish({ ok: true, model });
                },
                onCancel: close,
            },
            onClose: close,
        });
        return { finished, close };
    }

    public overwriteAccountAuth(): Promise<void> {
        unsupported("overwriteAccountAuth");
    }

    public createRoot(element: Element): Root {
        return createRoot(element);
    }
}
