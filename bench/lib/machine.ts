/** What the numbers were measured on: every section names its machine. */
import { readFileSync } from "node:fs";
import * as os from "node:os";

export interface MachineInfo {
  cpuModel: string;
  /** CPUs this process may use. */
  cores: number;
  /** A cgroup CPU quota, e.g. "2 CPUs (cgroup cpu.max)", when one is set. */
  cpuQuota?: string;
  memoryBytes: number;
  node: string;
  openssl: string;
  os: string;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

function cpuModel(): string {
  const info = readText("/proc/cpuinfo");
  const m = info ? /^model name\s*:\s*(.+)$/m.exec(info) : null;
  return (m?.[1] ?? os.cpus()[0]?.model ?? "unknown").trim();
}

function cgroupQuota(): string | undefined {
  const max = readText("/sys/fs/cgroup/cpu.max")?.trim();
  if (!max) return undefined;
  const [quota, period] = max.split(/\s+/);
  if (quota === undefined || quota === "max" || !period) return undefined;
  const cpus = Number(quota) / Number(period);
  return Number.isFinite(cpus) ? `${cpus.toFixed(2)} CPUs (cgroup cpu.max)` : undefined;
}

export function machineInfo(): MachineInfo {
  return {
    cpuModel: cpuModel(),
    cores: os.availableParallelism(),
    cpuQuota: cgroupQuota(),
    memoryBytes: os.totalmem(),
    node: process.version,
    openssl: process.versions.openssl ?? "unknown",
    os: `${os.type()} ${os.release()} ${os.arch()}`,
  };
}

/** One line: "AMD EPYC, 2 cores, 23.5 GiB, Node v20.20.2, OpenSSL 3.0.19, Linux 6.1 x64". */
export function describeMachine(m: MachineInfo): string {
  const gib = (m.memoryBytes / 2 ** 30).toFixed(1);
  const quota = m.cpuQuota ? ` (${m.cpuQuota})` : "";
  return `${m.cpuModel}, ${m.cores} cores${quota}, ${gib} GiB RAM, Node ${m.node}, OpenSSL ${m.openssl}, ${m.os}`;
}
