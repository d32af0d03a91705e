/**
 * The security scans' search: the actual secret values a test used or saw (passwords, access and refresh tokens,
 * recovery keys, room keys) looked for in whatever a front end leaves behind (a page's storage and console, the CLI's
 * output and files).
 */

/** Secrets by a name for the failure message; a recovery key is looked for as written (in groups) and without spaces. */
export type Secrets = Record<string, string>;

export function recoveryKeySecrets(name: string, key: string): Secrets {
    return { [name]: key, [`${name} (without spaces)`]: key.replace(/\s+/g, "") };
}

/** Each secret found, as "secret in place"; [] when every place is clean. */
export function secretsFound(places: Record<string, string>, secrets: Secrets): string[] {
    const found: string[] = [];
    for (const [secret, value] of Object.entries(secrets)) {
        if (value.length < 8) throw new Error(`${secret} is too short to look for reliably`);
        for (const [place, text] of Object.entries(places))
            if (text.includes(value)) found.push(`${secret} in ${place}`);
    }
    return found;
}

/** Every token of `tokens` (by origin), each named by its origin. */
export function tokenSecrets(tokens: Map<string, Set<string>>, origins: string[]): Secrets {
    const out: Secrets = {};
    for (const origin of origins)
        for (const [i, token] of [...(tokens.get(origin) ?? [])].entries()) out[`token ${i + 1} of ${origin}`] = token;
    return out;
}
