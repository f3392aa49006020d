// A seccomp filter for the daemon once it has given up root: a deny list of the system calls that
// could take a compromised process further (run programs, trace or write other processes, load
// kernel code, change credentials, mount, create namespaces). It is a deny list, not an allow list:
// Deno's runtime threads (V8 workers, tokio, the FFI helper pool) make system calls that change
// between Deno releases, and a missing entry in an allow list would kill the daemon in the field.
// The filter is installed on every thread at once (SECCOMP_FILTER_FLAG_TSYNC).

import { errno, openLibc, OsError } from "./libc.ts";

const SECCOMP_SET_MODE_FILTER = 1;
const SECCOMP_FILTER_FLAG_TSYNC = 1;
const SECCOMP_RET_ALLOW = 0x7fff0000;
const SECCOMP_RET_ERRNO = 0x00050000;
const EPERM = 1;

// Classic BPF opcodes.
const BPF_LD_W_ABS = 0x20;
const BPF_JEQ_K = 0x15;
const BPF_JGE_K = 0x35;
const BPF_RET_K = 0x06;

/** Offsets in `struct seccomp_data`. */
const DATA_NR = 0;
const DATA_ARCH = 4;

/** The system calls denied, by name. */
export const DENIED_SYSCALLS = [
  "execve",
  "execveat",
  "ptrace",
  "process_vm_readv",
  "process_vm_writev",
  "kexec_load",
  "kexec_file_load",
  "init_module",
  "finit_module",
  "delete_module",
  "mount",
  "umount2",
  "pivot_root",
  "chroot",
  "swapon",
  "swapoff",
  "reboot",
  "bpf",
  "userfaultfd",
  "perf_event_open",
  "add_key",
  "request_key",
  "keyctl",
  "unshare",
  "setns",
  "open_by_handle_at",
  "acct",
  "personality",
  "setuid",
  "setgid",
  "setreuid",
  "setregid",
  "setresuid",
  "setresgid",
  "setgroups",
  "setfsuid",
  "setfsgid",
  "io_uring_setup",
  "io_uring_enter",
  "io_uring_register",
] as const;

type Name = typeof DENIED_SYSCALLS[number];

/** System call numbers per architecture (from the kernel's syscall tables). */
const NUMBERS: Record<string, { audit: number; x32Base?: number; nr: Record<Name, number> }> = {
  x86_64: {
    audit: 0xc000003e,
    x32Base: 0x40000000,
    nr: {
      execve: 59,
      execveat: 322,
      ptrace: 101,
      process_vm_readv: 310,
      process_vm_writev: 311,
      kexec_load: 246,
      kexec_file_load: 320,
      init_module: 175,
      finit_module: 313,
      delete_module: 176,
      mount: 165,
      umount2: 166,
      pivot_root: 155,
      chroot: 161,
      swapon: 167,
      swapoff: 168,
      reboot: 169,
      bpf: 321,
      userfaultfd: 323,
      perf_event_open: 298,
      add_key: 248,
      request_key: 249,
      keyctl: 250,
      unshare: 272,
      setns: 308,
      open_by_handle_at: 304,
      acct: 163,
      personality: 135,
      setuid: 105,
      setgid: 106,
      setreuid: 113,
      setregid: 114,
      setresuid: 117,
      setresgid: 119,
      setgroups: 116,
      setfsuid: 122,
      setfsgid: 123,
      io_uring_setup: 425,
      io_uring_enter: 426,
      io_uring_register: 427,
    },
  },
  aarch64: {
    audit: 0xc00000b7,
    nr: {
      execve: 221,
      execveat: 281,
      ptrace: 117,
      process_vm_readv: 270,
      process_vm_writev: 271,
      kexec_load: 104,
      kexec_file_load: 294,
      init_module: 105,
      finit_module: 273,
      delete_module: 106,
      mount: 40,
      umount2: 39,
      pivot_root: 41,
      chroot: 51,
      swapon: 224,
      swapoff: 225,
      reboot: 142,
      bpf: 280,
      userfaultfd: 282,
      perf_event_open: 241,
      add_key: 217,
      request_key: 218,
      keyctl: 219,
      unshare: 97,
      setns: 268,
      open_by_handle_at: 265,
      acct: 89,
      personality: 92,
      setuid: 146,
      setgid: 144,
      setreuid: 145,
      setregid: 143,
      setresuid: 147,
      setresgid: 149,
      setgroups: 159,
      setfsuid: 151,
      setfsgid: 152,
      io_uring_setup: 425,
      io_uring_enter: 426,
      io_uring_register: 427,
    },
  },
};

/** The `seccomp` system call's number per architecture. */
const SECCOMP_NR: Record<string, number> = { x86_64: 317, aarch64: 277 };

/** True when this architecture has a filter here. */
export function seccompSupported(arch: string = Deno.build.arch): boolean {
  return arch in NUMBERS;
}

function insn(code: number, jt: number, jf: number, k: number): number[] {
  return [code, jt, jf, k >>> 0];
}

/**
 * The filter program as `struct sock_filter` bytes (8 bytes an instruction): a call from another
 * architecture (or the x32 ABI) fails with EPERM, a denied call fails with EPERM, the rest run.
 */
export function buildDenyFilter(arch: string = Deno.build.arch): Uint8Array {
  const table = NUMBERS[arch];
  if (table === undefined) throw new Error(`no seccomp filter for ${arch}`);
  const deny = SECCOMP_RET_ERRNO | EPERM;
  const prog: number[][] = [
    insn(BPF_LD_W_ABS, 0, 0, DATA_ARCH),
    insn(BPF_JEQ_K, 1, 0, table.audit),
    insn(BPF_RET_K, 0, 0, deny),
    insn(BPF_LD_W_ABS, 0, 0, DATA_NR),
  ];
  if (table.x32Base !== undefined) {
    prog.push(insn(BPF_JGE_K, 0, 1, table.x32Base), insn(BPF_RET_K, 0, 0, deny));
  }
  for (const name of DENIED_SYSCALLS) {
    prog.push(insn(BPF_JEQ_K, 0, 1, table.nr[name]), insn(BPF_RET_K, 0, 0, deny));
  }
  prog.push(insn(BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW));
  const out = new Uint8Array(prog.length * 8);
  const v = new DataView(out.buffer);
  prog.forEach(([code, jt, jf, k], i) => {
    v.setUint16(i * 8, code!, true);
    v.setUint8(i * 8 + 2, jt!);
    v.setUint8(i * 8 + 3, jf!);
    v.setUint32(i * 8 + 4, k!, true);
  });
  return out;
}

let lib: Deno.DynamicLibrary<typeof SYMBOLS> | null = null;
const SYMBOLS = {
  syscall: { parameters: ["i64", "i64", "i64", "buffer"], result: "i64" },
} as const;

/**
 * Installs the deny filter on every thread of the process. Needs no_new_privs on the calling
 * thread (or CAP_SYS_ADMIN); the kernel then sets no_new_privs on every thread it syncs.
 */
export function installDenyFilter(): void {
  const arch = Deno.build.arch;
  const nr = SECCOMP_NR[arch];
  if (nr === undefined) throw new Error(`no seccomp filter for ${arch}`);
  const filter = buildDenyFilter(arch);
  const fprog = new Uint8Array(16);
  const v = new DataView(fprog.buffer);
  v.setUint16(0, filter.length / 8, true);
  v.setBigUint64(8, BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(filter))), true);
  lib ??= openLibc(SYMBOLS);
  const rc = lib.symbols.syscall(
    BigInt(nr),
    BigInt(SECCOMP_SET_MODE_FILTER),
    BigInt(SECCOMP_FILTER_FLAG_TSYNC),
    fprog,
  );
  if (rc < 0n) throw new OsError("seccomp", errno());
  if (rc > 0n) throw new OsError("seccomp", 0, `thread ${rc} could not be synchronised`);
}
