// `progression netcheck --manifests PATH`: the objects of a directory (or file) of Kubernetes
// YAML/JSON, read as `kubectl apply -f PATH` reads them.
import * as fs from "node:fs";
import * as path from "node:path";
import { loadAll, YAMLException } from "js-yaml";
import { UsageError } from "../args";
import { SourceError } from "./errors";

/** The files `kubectl apply -f PATH` reads: PATH itself, or its *.yaml/*.yml/*.json (not recursive), in name order. */
function manifestFiles(target: string): string[] {
    let stat: fs.Stats;
    try {
        stat = fs.statSync(target);
    } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "ENOENT" && isSymlink(target)) throw new SourceError(brokenLink("--manifests", target));
        throw new UsageError(
            code === "ENOENT"
                ? `--manifests '${target}': no such file or directory; fix: give a directory of Kubernetes YAML`
                : `--manifests '${target}': cannot be read (${code ?? "error"}); fix: give a readable directory of Kubernetes YAML`,
        );
    }
    if (stat.isFile()) return [target];
    let names: string[];
    try {
        names = fs.readdirSync(target);
    } catch (err) {
        throw new SourceError(`--manifests '${target}': cannot list the directory (${(err as NodeJS.ErrnoException).code ?? "error"}); fix: make it readable`);
    }
    const files = names
        .filter((f) => /\.(ya?ml|json)$/i.test(f))
        .sort()
        .map((f) => path.join(target, f))
        .filter((f) => {
            try {
                return fs.statSync(f).isFile();
            } catch (err) {
                // A dangling symlink, or a file removed while listing: say which, rather than skip it silently.
                if ((err as NodeJS.ErrnoException).code === "ENOENT" && isSymlink(f)) throw new SourceError(brokenLink("--manifests", f));
                throw new SourceError(`--manifests: '${f}' cannot be read (${(err as NodeJS.ErrnoException).code ?? "error"})`);
            }
        });
    if (files.length === 0) throw new UsageError(`--manifests '${target}': no .yaml, .yml or .json files in it`);
    return files;
}

function isSymlink(file: string): boolean {
    try {
        return fs.lstatSync(file).isSymbolicLink();
    } catch {
        return false;
    }
}

function brokenLink(flag: string, file: string): string {
    let to = "?";
    try {
        to = fs.readlinkSync(file);
    } catch {
        // keep "?"
    }
    return `${flag}: '${file}' is a symbolic link to '${to}', which does not exist; fix: restore its target or remove the link`;
}

export function readManifests(target: string): unknown[] {
    const objects: unknown[] = [];
    for (const file of manifestFiles(target)) {
        let text: string;
        try {
            text = fs.readFileSync(file, "utf8");
        } catch (err) {
            throw new SourceError(
                `--manifests: '${file}' cannot be read (${(err as NodeJS.ErrnoException).code ?? "error"}); fix: make it readable or remove it`,
            );
        }
        // js-yaml, YAML 1.2 core schema: an order of magnitude faster than `yaml` on thousands of
        // documents, and these are plain data (no anchors across files, no custom tags).
        try {
            loadAll(
                text,
                (value) => {
                    if (value !== null && value !== undefined) objects.push(value);
                },
                { filename: file },
            );
        } catch (err) {
            if (!(err instanceof YAMLException)) throw err;
            const at = err.mark ? `:${err.mark.line + 1}:${err.mark.column + 1}` : "";
            throw new SourceError(`${file}${at}: not valid YAML: ${err.reason}`);
        }
    }
    return objects;
}
