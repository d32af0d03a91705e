/** A tiny typed event bus between the host's Api object and its React tree. */
import type { ComponentType } from "react";

export interface OpenDialogRequest {
    id: string;
    title: string;
    Component: ComponentType<Record<string, unknown>>;
    props: Record<string, unknown>;
    onClose(): void;
}

interface EventMap {
    spacePanelItemsChanged: void;
    insertIntoComposer: string;
    openDialog: OpenDialogRequest;
    closeDialog: string;
}

type Listener<T> = (payload: T) => void;

export class HostEvents {
    private readonly listeners = new Map<keyof EventMap, Set<Listener<never>>>();

    public on<K extends keyof EventMap>(name: K, listener: Listener<EventMap[K]>): () => void {
        const set = this.listeners.get(name) ?? new Set();
        set.add(listener as Listener<never>);
        this.listeners.set(name, set);
        return () => set.delete(listener as Listener<never>);
    }

    public emit<K extends keyof EventMap>(name: K, ...payload: EventMap[K] extends void ? [] : [EventMap[K]]): void {
        for (const l of this.listeners.get(name) ?? []) (l as Listener<unknown>)(payload[0]);
    }
}

export const hostEvents = new HostEvents();
