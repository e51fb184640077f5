#!/usr/bin/env python3
"""Write the seed corpora of the fuzz targets: fuzz/corpus/<target>/seed-*.

usage: fuzz/gen_corpus.py [OUTDIR]      (default: the corpus/ directory next to this script)

Each seed is a small, deterministic input in the layout its target reads (see the comment at the top of
fuzz/fuzz_<target>.c), chosen to reach the interesting paths at once: valid programs in each privilege mode
and paging mode, well-formed page tables, loadable ELF files and Image headers, device register sequences
the Linux drivers use, SBI calls of every extension, well-formed virtqueues. Files named regress-* are
inputs that once crashed a target; this script never touches them.
"""
import os
import struct
import sys

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")

RAM_BASE = 0x80000000
PAGE = 4096


def u8(v):
    return struct.pack("<B", v & 0xFF)


def u16(v):
    return struct.pack("<H", v & 0xFFFF)


def u32(v):
    return struct.pack("<I", v & 0xFFFFFFFF)


def u64(v):
    return struct.pack("<Q", v & 0xFFFFFFFFFFFFFFFF)


def write(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def clean(target):
    d = os.path.join(OUT, target)
    if os.path.isdir(d):
        for n in os.listdir(d):
            if n.startswith("seed-"):
                os.remove(os.path.join(d, n))


# ---- a tiny RV64 encoder ----------------------------------------------------------------------------

def r(op, rd, f3, rs1, rs2, f7):
    return (f7 << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op


def i_(op, rd, f3, rs1, imm):
    return ((imm & 0xFFF) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op


def s_(op, f3, rs1, rs2, imm):
    return (((imm >> 5) & 0x7F) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | ((imm & 0x1F) << 7) | op


def b_(f3, rs1, rs2, imm):
    return ((((imm >> 12) & 1) << 31) | (((imm >> 5) & 0x3F) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12)
            | (((imm >> 1) & 0xF) << 8) | (((imm >> 11) & 1) << 7) | 0x63)


def jal(rd, imm):
    return ((((imm >> 20) & 1) << 31) | (((imm >> 1) & 0x3FF) << 21) | (((imm >> 11) & 1) << 20)
            | (((imm >> 12) & 0xFF) << 12) | (rd << 7) | 0x6F)


ADDI = lambda d, a, v: i_(0x13, d, 0, a, v)
LD = lambda d, a, v: i_(0x03, d, 3, a, v)
LW = lambda d, a, v: i_(0x03, d, 2, a, v)
LBU = lambda d, a, v: i_(0x03, d, 4, a, v)
SD = lambda s, a, v: s_(0x23, 3, a, s, v)
SW = lambda s, a, v: s_(0x23, 2, a, s, v)
SH = lambda s, a, v: s_(0x23, 1, a, s, v)
ADD = lambda d, a, b: r(0x33, d, 0, a, b, 0)
SUB = lambda d, a, b: r(0x33, d, 0, a, b, 0x20)
MUL = lambda d, a, b: r(0x33, d, 0, a, b, 1)
MULH = lambda d, a, b: r(0x33, d, 1, a, b, 1)
DIV = lambda d, a, b: r(0x33, d, 4, a, b, 1)
REMU = lambda d, a, b: r(0x33, d, 7, a, b, 1)
DIVW = lambda d, a, b: r(0x3B, d, 4, a, b, 1)
SLLW = lambda d, a, b: r(0x3B, d, 1, a, b, 0)
SRAI = lambda d, a, sh: i_(0x13, d, 5, a, 0x400 | sh)
LUI = lambda d, v: (v & 0xFFFFF000) | (d << 7) | 0x37
AUIPC = lambda d, v: (v & 0xFFFFF000) | (d << 7) | 0x17
JALR = lambda d, a, v: i_(0x67, d, 0, a, v)
CSRRW = lambda d, c, s: i_(0x73, d, 1, s, c)
CSRRS = lambda d, c, s: i_(0x73, d, 2, s, c)
CSRRC = lambda d, c, s: i_(0x73, d, 3, s, c)
CSRRWI = lambda d, c, u: i_(0x73, d, 5, u, c)
CSRRSI = lambda d, c, u: i_(0x73, d, 6, u, c)
AMO = lambda f5, dbl, d, a, s: r(0x2F, d, 3 if dbl else 2, a, s, f5 << 2)
FLD = lambda d, a, v: i_(0x07, d, 3, a, v)
FSD = lambda s, a, v: s_(0x27, 3, a, s, v)
FADD_D = lambda d, a, b: r(0x53, d, 7, a, b, 0x01)
FMUL_S = lambda d, a, b: r(0x53, d, 4, a, b, 0x08)  # rm = RMM
FDIV_D = lambda d, a, b: r(0x53, d, 7, a, b, 0x0D)
FSQRT_D = lambda d, a: r(0x53, d, 7, a, 0, 0x2D)
FCVT_L_D = lambda d, a: r(0x53, d, 1, a, 2, 0x61)
FCVT_D_L = lambda d, a: r(0x53, d, 7, a, 2, 0x69)
FMV_X_D = lambda d, a: r(0x53, d, 0, a, 0, 0x71)
FCLASS_D = lambda d, a: r(0x53, d, 1, a, 0, 0x71)
FMADD_D = lambda d, a, b, c: (c << 27) | (1 << 25) | (b << 20) | (a << 15) | (7 << 12) | (d << 7) | 0x43
FMIN_S = lambda d, a, b: r(0x53, d, 0, a, b, 0x14)
FEQ_D = lambda d, a, b: r(0x53, d, 2, a, b, 0x51)
ECALL, EBREAK, MRET, SRET, WFI = 0x73, 0x100073, 0x30200073, 0x10200073, 0x10500073
SFENCE = r(0x73, 0, 0, 0, 0, 0x09)
FENCE, FENCE_I = 0x0FF0000F, 0x0000100F
NOP = ADDI(0, 0, 0)

CSR = dict(sstatus=0x100, sie=0x104, stvec=0x105, sscratch=0x140, sepc=0x141, scause=0x142, stval=0x143,
           sip=0x144, satp=0x180, mstatus=0x300, misa=0x301, medeleg=0x302, mideleg=0x303, mie=0x304,
           mtvec=0x305, mscratch=0x340, mepc=0x341, mcause=0x342, mtval=0x343, mip=0x344, cycle=0xC00,
           time=0xC01, instret=0xC02, mcycle=0xB00, minstret=0xB02, fcsr=0x003, frm=0x002, pmpcfg0=0x3A0,
           pmpaddr0=0x3B0, mhartid=0xF14, hpm3=0xC03, menvcfg=0x30A)


def words(ws):
    return b"".join(u32(w) for w in ws)


def halves(hs):
    return b"".join(u16(h) for h in hs)


# ---- cpu ------------------------------------------------------------------------------------------------

def regval_ram(off):
    """reg_value(): a byte below 0x80 is RAM_BASE + byte * 512."""
    return u8(off // 512)


def cpu_input(priv, paging, code, handler, *, ecall=False, mstatus=0, medeleg=0, mideleg=0, mie=0, mip=0,
              hw=0, toggle=0, flags=None, regs=None, entry=0, vec=None, extra_ram=b""):
    """fuzz_cpu.c layout. priv: 0 U, 1 S, 3 M. paging: 0 bare, 1 Sv39, 2 Sv48.
    Handlers at vec (M) and vec + 0x80 (S); the RAM image starts at min(vec, entry) rounded down to 256."""
    mode = (2 if priv == 3 else priv) | (paging << 2) | (0x80 if ecall else 0)
    h = u8(mode) + u8(0) + u16(entry)
    vec = VEC if vec is None else vec
    h += u64(mstatus) + u16(medeleg) + u16(mideleg) + u16(mie) + u16(mip)
    h += u16(vec) + u16(vec + 0x80) + u16(entry + 4) + u16(entry + 4)  # mtvec stvec mepc sepc
    h += u8(0xFF) + u8(0xFF) + u8(0)  # mcounteren scounteren fcsr
    h += regval_ram(0x4000) + regval_ram(0x5000)  # mscratch sscratch
    h += u16(hw) + u16(toggle)
    regs = regs or {}
    for x in range(1, 32):
        v = regs.get(x)
        if v is None:
            h += regval_ram(0x2000 + 512 * (x % 16))  # data pages 2..5
        elif isinstance(v, bytes):
            h += v
        else:
            h += u8(0x80) + u64(v)
    for k in range(8):
        h += u64([0x3FF0000000000000, 0x4009_21FB_5444_2D18, 0xFFFFFFFF3F800000, 0x7FF8000000000001,
                  0x8000000000000000, 0x7FF0000000000000, 0xFFFFFFFF7F7FFFFF, 0x0000000000000001][k])
    if paging:
        flags = flags if flags is not None else [0xCF] * 16  # V R W X A D
        h += bytes(flags) + u8(0x0F) + u8(0)
    assert entry + len(code) <= vec or entry >= vec + 0x100
    ram = bytearray(2 * PAGE)
    ram[entry:entry + len(code)] = code
    ram[vec:vec + len(handler)] = handler
    start = min(vec, entry) // 256 * 256
    # trim the zero tail: the harness zero-fills
    body = bytes(ram[start:]).rstrip(b"\0") + extra_ram
    return h + u8(start // 256) + body


VEC = 0x200

# M-mode trap handler at mtvec: skip the trapping instruction, return.
M_HANDLER = words([CSRRS(5, CSR["mepc"], 0), ADDI(5, 5, 4), CSRRW(0, CSR["mepc"], 5),
                   CSRRS(6, CSR["mcause"], 0), CSRRS(7, CSR["mtval"], 0), MRET])
# S-mode handler at stvec (= mtvec + 0x100)
S_HANDLER = words([CSRRS(5, CSR["sepc"], 0), ADDI(5, 5, 4), CSRRW(0, CSR["sepc"], 5),
                   CSRRS(6, CSR["scause"], 0), SRET])
HANDLERS = M_HANDLER + bytes(0x80 - len(M_HANDLER)) + S_HANDLER

ALU = [ADDI(10, 0, -1), ADDI(11, 0, 7), MUL(12, 10, 11), MULH(13, 10, 11), DIV(14, 10, 0), REMU(15, 11, 0),
       DIVW(16, 10, 10), SLLW(17, 11, 11), SRAI(18, 10, 63), SUB(19, 0, 10), LUI(20, 0x80000000), AUIPC(21, 0x1000),
       b_(0, 0, 0, 8), NOP, b_(6, 10, 11, -4), jal(1, 8), NOP, JALR(0, 1, 0)]
MEM = [LD(10, 1, 0), SD(10, 2, 8), LW(11, 3, -4), SW(11, 4, 2), SH(11, 5, 4093), LBU(12, 6, 511),
       AMO(0x02, True, 13, 7, 0), AMO(0x03, True, 14, 7, 10), AMO(0x00, False, 15, 8, 11),
       AMO(0x1C, True, 16, 9, 10), AMO(0x01, True, 17, 10, 11), FENCE, FENCE_I]
FP = [FLD(1, 2, 0), FADD_D(2, 0, 4), FMUL_S(3, 8, 24), FDIV_D(4, 4, 16), FSQRT_D(5, 20), FCVT_L_D(10, 4),
      FCVT_D_L(6, 10), FMV_X_D(11, 12), FCLASS_D(12, 28), FMADD_D(7, 0, 4, 12), FMIN_S(8, 8, 12),
      FEQ_D(13, 12, 12), FSD(7, 3, 16), CSRRS(14, CSR["fcsr"], 0), CSRRWI(0, CSR["frm"], 4), FADD_D(9, 4, 4)]
CSRS = [CSRRS(10, c, 0) for c in CSR.values()] + [CSRRW(11, CSR["mscratch"], 10), CSRRSI(0, CSR["mstatus"], 8),
                                                   CSRRC(0, CSR["mip"], 0), CSRRW(0, CSR["satp"], 0)]
TRAPS = [ECALL, EBREAK, 0, 0xFFFFFFFF, LD(10, 0, 1), SD(10, 0, 0), JALR(0, 0, 0x10)]
# Compressed: c.li, c.addi, c.lw, c.sw, c.j, c.mv, c.add, c.ldsp, c.sdsp, c.nop, c.ebreak, illegal 0
RVC = halves([0x4505, 0x0505, 0x4188, 0xC188, 0xA011, 0x852E, 0x952E, 0x6502, 0xE02A, 0x0001, 0x9002, 0x0000])


def gen_cpu():
    t = "cpu"
    clean(t)
    write(t, "m-bare-alu", cpu_input(3, 0, words(ALU + [WFI] + TRAPS), HANDLERS))
    write(t, "m-bare-mem-amo", cpu_input(3, 0, words(MEM + TRAPS), HANDLERS, regs={10: 0x10000010}))
    write(t, "m-bare-fp", cpu_input(3, 0, words(FP), HANDLERS, mstatus=0x6000))
    write(t, "m-bare-csr", cpu_input(3, 0, words(CSRS + [MRET]), HANDLERS, mstatus=0x2000))
    write(t, "m-bare-rvc", cpu_input(3, 0, RVC + words(ALU), HANDLERS))
    # M-mode, MPRV with MPP=S over Sv39: every load/store translates.
    write(t, "m-mprv-sv39", cpu_input(3, 1, words(MEM + [SFENCE, MRET]), HANDLERS, mstatus=(1 << 17) | (1 << 11)))
    # S-mode on Sv39 with delegated traps, VMM-SBI ecalls (a7 odd), sret.
    write(t, "s-sv39-sbi", cpu_input(1, 1, words([ADDI(17, 0, 1), ECALL, ADDI(17, 0, 3), ECALL, SFENCE]
                                                  + MEM + TRAPS + [SRET]), HANDLERS, ecall=True,
                                     medeleg=0xB1FF, mideleg=0x222))
    # S-mode on Sv48, pages without A/D (hardware update) and one without W.
    write(t, "s-sv48-ad", cpu_input(1, 2, words(MEM + CSRS), HANDLERS, flags=[0x0F] * 4 + [0x4B] + [0xCF] * 11,
                                    medeleg=0xB1FF))
    # U-mode on Sv39: pages user-accessible, traps delegated to S.
    write(t, "u-sv39", cpu_input(0, 1, words(ALU + MEM + FP + TRAPS), HANDLERS, flags=[0xDF, 0xCF] + [0xDF] * 14,
                                 medeleg=0xB1FF, mstatus=0x6000 | (1 << 18)))
    # U-mode with SUM off and S pages: faults everywhere, handler in M.
    write(t, "u-sv39-faults", cpu_input(0, 1, words(MEM + [ECALL]), HANDLERS, flags=[0xCF] * 16))
    # Interrupts: WFI with timer/external lines, vectored mtvec.
    write(t, "m-irq-wfi", cpu_input(3, 0, words([CSRRSI(0, CSR["mstatus"], 8), WFI, NOP, WFI, ECALL]), HANDLERS,
                                    mie=0xAAA, hw=0x880, toggle=0x5555))
    write(t, "s-irq-deleg", cpu_input(1, 0, words([CSRRSI(0, CSR["sstatus"], 2), WFI, NOP, WFI]), HANDLERS,
                                      mideleg=0x222, mie=0x2A2, hw=0x220, toggle=0xFFFF))
    # A 32-bit instruction straddling pages 0 and 1 (bare, then Sv39 with page 1 not executable).
    straddle = halves([0x0001]) + words([ADDI(10, 10, 1), ADDI(11, 11, 2), jal(0, -8)])
    write(t, "m-straddle", cpu_input(3, 0, straddle, HANDLERS, entry=0xFFC, vec=0xE00))
    write(t, "s-straddle-nx", cpu_input(1, 1, straddle, HANDLERS, entry=0xFFC, vec=0xE00,
                                        flags=[0xCF, 0xC7] + [0xCF] * 14, medeleg=0xB1FF))
    # A misaligned store across into a read-only page: must fault with nothing written.
    write(t, "s-store-cross-ro", cpu_input(1, 1, words([SD(10, 1, 0), LD(11, 1, 0), SW(10, 2, 0)]), HANDLERS,
                                           flags=[0xCF] * 3 + [0x43] + [0xCF] * 12,
                                           regs={1: RAM_BASE + 3 * PAGE - 4, 2: RAM_BASE + 4 * PAGE - 2}))
    # Misaligned and page-crossing accesses, MMIO window, HTIF-like watched page (page 11).
    write(t, "m-misaligned-mmio", cpu_input(3, 0, words([LD(10, 1, 4095), SD(10, 1, 4093), LW(11, 2, 1),
                                                         SD(10, 3, 0), LD(12, 3, 0), SW(10, 4, 6), LD(13, 4, 2)]),
                                            HANDLERS, regs={1: RAM_BASE + 0x3000, 2: 0x10000000,
                                                            3: 0x10000008, 4: RAM_BASE + 11 * PAGE}))


# ---- mmu ------------------------------------------------------------------------------------------------

def pte_ram(page, flags, super2m=False):
    """A word the harness turns into a PTE that points at RAM page `page` (bit 63; bit 62: 2 MiB aligned)."""
    return (1 << 63) | ((1 << 62) if super2m else 0) | ((page & 15) << 10) | flags


def mmu_input(mode_idx, root_page, writes, queries):
    d = u8((mode_idx & 3) | ((root_page & 15) << 2)) + u8(len(writes))
    for slot, word in writes:
        d += u16(slot) + u64(word)
    for op, st, va, val in queries:
        d += u8(op) + u8(st)
        d += u64(va) if op & 0x10 else u64(va)[:6]
        d += u64(val)
    return d


def slot(page, idx):
    return page * 512 + idx


def gen_mmu():
    t = "mmu"
    clean(t)
    # Sv39: root page 0; VA 0x80000000 (vpn2 = 2) -> L1 at page 1 -> L0 at page 2 -> RAM pages.
    base = [(slot(0, 2), pte_ram(1, 0x01)), (slot(1, 0), pte_ram(2, 0x01))]
    leaves = [(slot(2, i), pte_ram(i, [0xCF, 0x0F, 0xDF, 0x4B, 0x43, 0xC9, 0x03, 0x01][i % 8])) for i in range(16)]
    va = lambda i, off=0: RAM_BASE + i * PAGE + off
    # op: bits 0-1 access (0 R, 1 W, 3 X), 2-3 priv (U S M S), 4 raw VA, 5-6 size, 7 AMO
    q = []
    for i in range(8):
        for acc in (0, 1, 3):
            q.append((acc | (1 << 2) | (3 << 5), 0, va(i, 8 * i), 0x1122334455667788))
    q += [(0 | (0 << 2), 1, va(2), 0), (1 | (0 << 2), 3, va(2), 0), (0 | (2 << 2), 4 | (1 << 3), va(1), 0),
          (1 | 0x80 | (2 << 5), 1, va(0, 4), 7), (0 | 0x80 | (3 << 5), 0, va(5), 0),
          (0 | 0x10 | (1 << 2), 0, 0x0000004000000000, 0), (3 | (1 << 2), 2, va(3), 0)]
    write(t, "sv39-4k", mmu_input(0, 0, base + leaves, q))
    # Sv39 superpages: a 1 GiB leaf at vpn2 = 2 (misaligned unless ppn aligned), a 2 MiB leaf at L1[1].
    sp = [(slot(0, 2), pte_ram(0, 0xCF, True)), (slot(0, 3), pte_ram(3, 0xCF)),
          (slot(0, 0), pte_ram(1, 0x01)), (slot(1, 1), pte_ram(0, 0xDF, True))]
    q = [(0 | (1 << 2) | (3 << 5), 0, RAM_BASE + 0x1234, 0), (1 | (1 << 2), 1, 0x200000 + 0x10, 5),
         (0 | (0 << 2), 0, 0x200000, 0), (0 | (1 << 2), 0, 0xC0000000, 0), (3 | (1 << 2), 0, RAM_BASE, 0)]
    write(t, "sv39-superpages", mmu_input(0, 0, sp, q))
    # Sv48: root page 3 -> page 0 as level 2 (same tables as above below it), upper half too.
    sv48 = [(slot(3, 0), pte_ram(0, 0x01)), (slot(3, 256), pte_ram(0, 0x01))] + base + leaves
    q = [(acc | (1 << 2) | (3 << 5), 2, RAM_BASE + 0x100 * acc, 0) for acc in (0, 1, 3)]
    q += [(0 | 0x10 | (1 << 2), 0, 0xFFFF800080000000, 0), (0 | 0x10 | (1 << 2), 0, 0x0000800000000000, 0)]
    write(t, "sv48", mmu_input(1, 3, sv48, q))
    # Broken tables: W without R, reserved bits, A/D/U on a non-leaf, a PTE outside RAM, a leaf at level 0 pointer.
    bad = [(slot(0, 2), pte_ram(1, 0x01)), (slot(1, 0), pte_ram(2, 0x51)), (slot(1, 1), pte_ram(2, 0x05)),
           (slot(1, 2), (1 << 60) | pte_ram(2, 0xCF) & ((1 << 60) - 1)), (slot(1, 3), (0x12345 << 10) | 0x01),
           (slot(0, 4), pte_ram(2, 0x01)), (slot(2, 0), pte_ram(2, 0x01))]
    q = [(0 | (1 << 2), 0, RAM_BASE + i * 0x200000, 0) for i in range(4)]
    q += [(0 | (1 << 2), 0, 0x100000000, 0)]
    write(t, "sv39-malformed", mmu_input(0, 0, bad, q))
    # Bare mode and M-mode: identity.
    write(t, "bare", mmu_input(2, 0, [], [(0 | (2 << 2), 0, RAM_BASE + 8, 0), (1 | (1 << 2) | (3 << 5), 0, RAM_BASE + 16, 9),
                                          (3 | (1 << 2), 0, 0x1000, 0)]))


# ---- loader ---------------------------------------------------------------------------------------------

def elf(entry=RAM_BASE, segs=((RAM_BASE, b"\x13\x00\x00\x00" * 4, 64),), syms=(("tohost", RAM_BASE + 0x1000),
                                                                                ("fromhost", RAM_BASE + 0x1040)),
        etype=2, machine=243, shoff_misalign=0):
    """A little ELF64 RISC-V executable: program headers, then the segments, then a symtab."""
    ehsize, phsize, shsize = 64, 56, 64
    phoff = ehsize
    data_off = phoff + phsize * len(segs)
    body = b""
    phdrs = b""
    for paddr, content, memsz in segs:
        off = data_off + len(body)
        phdrs += struct.pack("<IIQQQQQQ", 1, 7, off, paddr, paddr, len(content), memsz, 8)
        body += content
    strtab = b"\0" + b"".join(n.encode() + b"\0" for n, _ in syms)
    symtab = bytes(24)
    pos = 1
    for n, v in syms:
        symtab += struct.pack("<IBBHQQ", pos, 0x10, 0, 1, v, 8)
        pos += len(n) + 1
    tail_off = data_off + len(body)
    sym_off, str_off = tail_off, tail_off + len(symtab)
    shoff = (str_off + len(strtab) + 7) // 8 * 8 + shoff_misalign  # toolchains align the section headers

    pad = bytes(shoff - str_off - len(strtab))
    shdrs = bytes(shsize)
    shdrs += struct.pack("<IIQQQQIIQQ", 0, 2, 0, 0, sym_off, len(symtab), 2, 1, 8, 24)
    shdrs += struct.pack("<IIQQQQIIQQ", 0, 3, 0, 0, str_off, len(strtab), 0, 0, 1, 0)
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    eh = ident + struct.pack("<HHIQQQIHHHHHH", etype, machine, 1, entry, phoff, shoff, 0, ehsize, phsize,
                             len(segs), shsize, 3, 0)
    return eh + phdrs + body + symtab + strtab + pad + shdrs


def image(magic=b"RISCV\0\0\0", magic2=0x05435352, image_size=0, payload=b"\x6f\x00\x00\x00"):
    h = struct.pack("<IIQQQIIQ8sII", 0x0000006F, 0, 0x200000, image_size, 0, 2, 0, 0, magic, magic2, 0)
    return h + payload


def gen_loader():
    t = "loader"
    clean(t)
    write(t, "elf-htif", u8(0) + elf())
    write(t, "elf-two-segments", u8(0) + elf(segs=((RAM_BASE, b"\x73\x00\x00\x00", 8),
                                                   (RAM_BASE + 0x2000, b"abcd", 0x100))))
    write(t, "elf-nosyms", u8(0) + elf(syms=()))
    write(t, "elf-tohost-misaligned", u8(0) + elf(syms=(("tohost", RAM_BASE + 4),)))
    write(t, "elf-outside-ram", u8(0) + elf(segs=((0x1000, b"x", 1),)))
    write(t, "elf-truncated", u8(0) + elf()[:100])
    write(t, "elf-dyn", u8(0) + elf(etype=3))
    write(t, "image-riscv", u8(1) + image())
    write(t, "image-rsc05", u8(1) + image(magic=b"\0" * 8, image_size=0x10000))
    write(t, "image-too-big", u8(1) + image(image_size=1 << 40))
    write(t, "image-short", u8(1) + image()[:40])
    write(t, "firmware", u8(2) + words([0x00000297, 0x02028593, 0x00000013, 0x0000006F]))
    write(t, "initrd", u8(3) + b"070701" + bytes(104) + b"TRAILER!!!\0")
    write(t, "initrd-dtb-top", u8(0x83) + bytes(500))


# ---- devices --------------------------------------------------------------------------------------------

W_CLINT, W_PLIC, W_UART, W_SYSCON, W_PLICCTX, W_MTIMECMP, W_MTIME, W_BOOTTIMER, W_ANY = range(9)


def mmio(write_, window, off, size_log2, val=0, misaligned=False):
    """kind 0/1: read/write; address = window base + off - 8 (the harness aims a little before each window)."""
    b = (size_log2 & 3) | (window << 2) | (0x40 if misaligned else 0)
    d = u8(1 if write_ else 0) + u8(b) + u32(off + (0 if window == W_ANY else 8))
    return d + (u64(val) if write_ else b"")


def sbi(ext_index, fid, args, mask_slot=0, mask=0):
    """kind 5: a0..a5 are small ints (< 0x80), ('p', i) = scratch + 8 * i, or raw words."""
    d = u8(5) + u8(ext_index * 16) + u8(fid)
    for a in list(args[:6]) + [0] * (6 - len(args)):
        if isinstance(a, tuple):
            d += u8(0x80 | a[1])
        elif a < 0x80:
            d += u8(a)
        else:
            d += u8(0xC0) + u64(a)
    return d + u8(mask_slot) + u64(mask)


def gen_devices():
    t = "devices"
    clean(t)
    # PLIC as Linux drives it: priorities, enable for S context, threshold, raise a line, claim, complete.
    plic = (mmio(1, W_PLIC, 4 * 10, 2, 1) + mmio(1, W_PLIC, 0x2080, 2, 1 << 10) + mmio(1, W_PLICCTX, 0x1000, 2, 0)
            + u8(2) + u8(0x40 | 10) + mmio(0, W_PLICCTX, 0x1004, 2) + u8(2) + u8(10)
            + mmio(1, W_PLICCTX, 0x1004, 2, 10) + mmio(0, W_PLIC, 0x1000, 2) + mmio(0, W_PLIC, 0x2000, 2)
            + mmio(1, W_PLIC, 0x2000, 2, 0xFFFFFFFF) + u8(2) + u8(0x40 | 31) + mmio(0, W_PLICCTX, 4, 2)
            + mmio(1, W_PLIC, 4 * 31, 1, 7) + u8(7) + u16(0xAAA) + u8(1))
    write(t, "plic", plic)
    # UART: 8250 probe (scratch, LCR/DLAB divisor), FIFO enable, loopback, THRE interrupt, RX input.
    uart = (mmio(1, W_UART, 7, 0, 0x5A) + mmio(0, W_UART, 7, 0) + mmio(1, W_UART, 3, 0, 0x83)
            + mmio(1, W_UART, 0, 0, 1) + mmio(1, W_UART, 1, 0, 0) + mmio(1, W_UART, 3, 0, 3)
            + mmio(1, W_UART, 2, 0, 0xC7) + mmio(1, W_UART, 4, 0, 0x1B) + mmio(1, W_UART, 0, 0, 0x41)
            + mmio(0, W_UART, 5, 0) + mmio(0, W_UART, 0, 0) + mmio(0, W_UART, 6, 0) + mmio(1, W_UART, 4, 0, 0x0B)
            + mmio(1, W_UART, 1, 0, 3) + mmio(0, W_UART, 2, 0) + u8(3) + u8(5) + b"hello"
            + mmio(0, W_UART, 2, 0) + mmio(0, W_UART, 0, 2) + u8(0x81) + u8(255) + bytes(range(256))[:255] + bytes(44))
    write(t, "uart", uart)
    # CLINT: msip, mtimecmp halves and whole, mtime write, timer update.
    clint = (mmio(1, W_CLINT, 0, 2, 1) + mmio(0, W_CLINT, 0, 2) + mmio(1, W_MTIMECMP, 0, 3, 100)
             + mmio(1, W_MTIMECMP, 4, 2, 0) + mmio(0, W_MTIMECMP, 4, 2) + mmio(0, W_MTIME, 8, 3)
             + mmio(1, W_MTIME, 8, 2, 0xFFFFFFFF) + mmio(1, W_MTIME, 12, 2, 0x7FFFFFFF) + u8(4) + u64(1 << 40)
             + mmio(0, W_CLINT, 0x4008, 3) + mmio(1, W_CLINT, 3, 0, 1, misaligned=True))
    write(t, "clint", clint)
    # syscon: fail with a code, reboot, poweroff; stray accesses.
    write(t, "syscon", mmio(0, W_SYSCON, 0, 2) + mmio(1, W_SYSCON, 0, 2, (7 << 16) | 0x3333)
          + mmio(1, W_SYSCON, 0, 1, 0x7777) + mmio(1, W_SYSCON, 0, 2, 0x5555) + mmio(1, W_ANY, 0x100004, 3, 0x5555)
          + mmio(1, W_BOOTTIMER, 0, 0, 123) + mmio(0, W_BOOTTIMER, 0, 2))
    # SBI: every extension (index into the harness's table), legal and illegal function IDs.
    calls = b""
    for ext in range(15):
        for fid in (0, 1, 2, 3, 7):
            calls += sbi(ext, fid, [("p", 1) if ext in (4, 5, 6, 7) else 1, 0, 5], mask_slot=1, mask=1)
    calls += sbi(0, 0, [0xFFFFFFFFFFFFFFFF]) + sbi(12, 0, [0, 0]) + sbi(14, 0, [0, 0]) + sbi(11, 0, [1, 0xFFFFFFFFFFFFFFFF])
    calls += u8(8) + u8(1) + u64(RAM_BASE >> 12) + sbi(4, 0, [("p", 1)]) + u8(7) + u16(0x222) + u8(1)
    write(t, "sbi", calls)
    # HTIF: putchar, a write syscall, exit; the syscall block is built from 8 selector bytes.
    # kind 6: 8 selector bytes (< 0x40 small, 0x41 = 64 write, 0x40 = 93 exit, 0x80 | i = scratch + 16 i),
    # then `how` (size, offset, value: 0x20 raw word, 0x40 the block's address, else an exit code).
    htif = (u8(6) + bytes([0x41, 1, 0x82, 5, 0, 0, 0, 0]) + u8(0x40)             # write(1, scratch + 32, 5)
            + u8(0x84) + bytes(8) + u8(0x20) + u64((1 << 56) | (1 << 48) | ord("x"))  # putchar, with fromhost
            + u8(6) + bytes(8) + u8(0x01) + u64(0)                                    # 32-bit low half first
            + u8(6) + bytes([0x40, 3, 0, 0, 0, 0, 0, 0]) + u8(0x40)                 # exit(3) syscall
            + u8(6) + bytes(8) + u8(0) + u64(21))                                     # exit code 21
    write(t, "htif", htif)


# ---- virtq ----------------------------------------------------------------------------------------------

def desc(addr, length, flags, nxt):
    return struct.pack("<QIHH", addr, length, flags, nxt)


def virtq_input(hdr, num, desc_off, avail_off, used_off, pieces, ops):
    d = u8(hdr) + u16(num) + u16(desc_off) + u16(avail_off) + u16(used_off) + u8(len(pieces))
    for off, data in pieces:
        assert len(data) <= 16
        d += u16(off) + u8(len(data)) + data
    return d + ops


def gen_virtq():
    t = "virtq"
    clean(t)
    D, A, U, BUF = 0x0000, 0x1000, 0x2000, 0x3000
    # A block-style request: header (readable), data (writable), status (writable); then a second chain.
    pieces = [(D + 0, desc(RAM_BASE + BUF, 16, 1, 1)), (D + 16, desc(RAM_BASE + BUF + 16, 512, 3, 2)),
              (D + 32, desc(RAM_BASE + BUF + 528, 1, 2, 0)), (D + 48, desc(RAM_BASE + BUF + 600, 64, 0, 0)),
              (A, struct.pack("<HHHH", 0, 2, 0, 3)), (BUF, b"\x01\0\0\0\0\0\0\0\x08\0\0\0\0\0\0\0")]
    ops = u8(0) + u8(3) + u16(0) + u32(513) + u16(4) + u8(4) + u8(0) + u8(2) + u8(0) + u8(3) + u16(0) + u32(0) + u16(0)
    ops += u8(4) + u8(6 | (3 << 3)) + u8(0) + u8(0)
    write(t, "chains", virtq_input(0x40, 4, D, A, U, pieces, ops))  # num = 1 << 4 = 16
    # Indirect table with EVENT_IDX: avail[0] -> desc 0 (INDIRECT) -> 3 entries at 0x3800.
    pieces = [(D, desc(RAM_BASE + 0x3800, 48, 4, 0)), (0x3800, desc(RAM_BASE + BUF, 8, 1, 1)),
              (0x3810, desc(RAM_BASE + BUF + 8, 8, 3, 2)), (0x3820, desc(RAM_BASE + BUF + 16, 4, 2, 0)),
              (A, struct.pack("<HHH", 0, 1, 0)), (A + 4 + 2 * 8, struct.pack("<H", 0))]
    ops = u8(0) + u8(3) + u16(0) + u32(12) + u16(12) + u8(4) + u8(0) + u8(4)
    write(t, "indirect-event-idx", virtq_input(0x40 | 3, 3, D, A, U, pieces, ops))  # num = 8
    # Malformed: a descriptor loop, a chain running off the table, avail idx far ahead.
    pieces = [(D, desc(RAM_BASE + BUF, 8, 1, 1)), (D + 16, desc(RAM_BASE + BUF, 8, 1, 0)),
              (A, struct.pack("<HHHH", 0, 1, 0, 1))]
    write(t, "loop", virtq_input(0x40 | 1, 1, D, A, U, pieces, u8(0) + u8(0)))  # num = 2
    pieces = [(D, desc(RAM_BASE + BUF, 8, 0, 0)), (A, struct.pack("<HH", 0, 0x8000))]
    write(t, "avail-jump", virtq_input(0x40 | 2, 2, D, A, U, pieces, u8(0) + u8(7 | 0x80 | (2 << 3)) + u16(0)
                                       + u16(A) + u16(U) + u8(0)))
    # Rings at the very end of RAM, and a reset with a bad size.
    pieces = [(0x3FE0, desc(0xFFFFFFFFFFFFF000, 0x2000, 2, 0))]
    write(t, "edges", virtq_input(0x40, 0, 0x3FE0, 0x3FF8, 0x3FC0, pieces,
                                  u8(0) + u8(5) + u16(0x3FFA) + b"\1\0" + u8(0)))


# ---- api ------------------------------------------------------------------------------------------------

def gen_api():
    t = "api"
    clean(t)
    rl = ('{"bandwidth":{"size":1048576,"one_time_burst":0,"refill_time":100},'
          '"ops":{"size":1000,"refill_time":1000}}')
    bodies = [
        '{"kernel_image_path":"/tmp/Image","initrd_path":"/tmp/initrd","boot_args":"console=ttyS0 reboot=k"}',
        '{"vcpu_count":1,"mem_size_mib":256,"smt":false,"track_dirty_pages":true,"huge_pages":"None"}',
        '{"mem_size_mib":128}',
        '{"drive_id":"rootfs","path_on_host":"/tmp/rootfs.ext4","is_root_device":true,"is_read_only":false,'
        '"partuuid":null,"cache_type":"Unsafe","io_engine":"Sync","rate_limiter":' + rl + '}',
        '{"drive_id":"rootfs","path_on_host":"/tmp/other.ext4","rate_limiter":null}',
        '{"iface_id":"eth0","guest_mac":"06:00:AC:10:00:02","host_dev_name":"tap0","rx_rate_limiter":' + rl
        + ',"tx_rate_limiter":null}',
        '{"iface_id":"eth0","rx_rate_limiter":{"bandwidth":{"size":1,"refill_time":1}}}',
        '{"rate_limiter":' + rl + '}',
        '{"serial_out_path":"/dev/null"}',
        '{"log_path":"/dev/null","level":"Warning","show_level":true,"show_log_origin":false,"module":"api"}',
        '{"metrics_path":"/dev/null"}',
        '{"action_type":"FlushMetrics"}',
        '{"state":"Paused"}',
        '{"snapshot_type":"Full","snapshot_path":"/tmp/s","mem_file_path":"/tmp/m"}',
        '{"snapshot_path":"/tmp/s","mem_backend":{"backend_type":"File","backend_path":"/tmp/m"},'
        '"enable_diff_snapshots":false,"resume_vm":true}',
        '{"kernel_image_path":"\\u0041\\ud83d\\ude00","boot_args":"x","kernel_image_path":"dup"}',
    ]
    for i, b in enumerate(bodies):
        write(t, f"parse-{i:02d}", u8(0) + u8(i) + b.encode())
    # Requests: how byte (route index, or 0x80 | method << 4 for a raw path), id/path up to NUL, u16 body.
    def req(how, path, body=""):
        return u8(how) + path.encode() + b"\0" + u16(len(body)) + body.encode()
    seq = (req(0, "") + req(1, "") + req(4, "", bodies[0]) + req(5, "", bodies[1]) + req(6, "", bodies[2])
           + req(7, "rootfs", bodies[3]) + req(8, "rootfs", bodies[4]) + req(9, "eth0", bodies[5])
           + req(10, "eth0", bodies[6]) + req(11, "", bodies[7]) + req(12, "", bodies[12]) + req(2, "")
           + req(3, "") + req(13, "", "{}") + req(15, "x"))
    write(t, "requests", u8(1) + seq)
    raw = (req(0x80 | (0 << 4), "/machine-config?x=1") + req(0x80 | (1 << 4), "//drives//a/b/c", "{}")
           + req(0x80 | (2 << 4), "/vm/config/", "{") + req(0x80 | (3 << 4), "/") + req(0x80 | (1 << 4), "/drives/", "[]")
           + req(0x80 | (0 << 4), "/version", "x") + req(0x80 | (1 << 4), "/boot-source", "") + req(7, "bad id!", bodies[3]))
    write(t, "requests-raw", u8(1) + raw)
    cfg = ('{"boot-source":' + bodies[0] + ',"machine-config":' + bodies[1] + ',"drives":[' + bodies[3]
           + '],"network-interfaces":[' + bodies[5] + '],"entropy":' + bodies[7] + '}')
    write(t, "config", u8(2) + cfg.encode())
    write(t, "config-unsupported", u8(2) + b'{"balloon":{},"vsock":null,"drives":{}}')


# ---- snapshot -------------------------------------------------------------------------------------------

def gen_snapshot():
    t = "snapshot"
    clean(t)
    # mode bits: 1 template (a valid file saved from the board), 2 fix length + CRC, 4 apply, 8 run, 0x10 cut.
    def patches(ps, cut=0xFFFF):
        d = u8(len(ps))
        for off, data in ps:
            d += u16(off) + u8(len(data)) + data
        return d + u16(cut)
    write(t, "template-apply-run", u8(0x0F) + patches([]))
    write(t, "template-nofix", u8(0x05) + patches([]))
    write(t, "template-patched", u8(0x0F) + patches([(40, u64(0)), (64, u32(7)), (100, b"\xff" * 8),
                                                      (200, u64(0x80000000)), (300, b"\x02")]))
    write(t, "template-cut", u8(0x1F) + patches([], cut=200))
    header = b"WISPSNAP" + u32(1) + u32(32) + u64(48) + u32(0) + u32(0)
    write(t, "raw-header-section", u8(0x06) + header + u32(3) + u32(1) + u64(0))
    write(t, "raw-bad-version", u8(0x02) + b"WISPSNAP" + u32(99) + u32(32) + u64(32) + u64(0))


# ---- virtio (transport + devices) ------------------------------------------------------------------------

G_BASE = 0x80000000
G_BUF = 0x20000  # buffers from here: op 4's `where` * 8 bytes past it


def vop_init(features, numlog2=3):
    return u8(2) + u64(features) + u8(numlog2)


def vop_ram(off, data):
    assert 1 <= len(data) <= 16
    return u8(3 | ((len(data) - 1) << 4)) + u32(off) + data


def vop_desc(q, i, where, length, flags, nxt):
    return u8(4 | (q << 4)) + u8(i) + u16(where) + u16(length) + u8(flags) + u8(nxt)


def vop_offer(q, head):
    return u8(5 | (q << 4)) + u8(head)


def gen_virtio():
    t = "virtio"
    clean(t)
    common = (1 << 32) | (1 << 28) | (1 << 29)  # VERSION_1, INDIRECT_DESC, EVENT_IDX
    blk, blk_ro, rng, net, con, net_off, blk_async = range(7)
    # blk: read sector 1, write sector 2, flush, get-id, an unsupported type; header at where 0, data at 8.
    ops = vop_init(common | (1 << 9) | (1 << 6))
    for n, (typ, sector, dflags) in enumerate([(0, 1, 2), (1, 2, 0), (4, 0, 2), (8, 0, 2), (99, 0, 2)]):
        hdr_where, data_where, st_where = 0x100 * n, 0x100 * n + 8, 0x100 * n + 0x80
        ops += vop_ram(G_BUF + hdr_where * 8, u32(typ) + u32(0) + u64(sector))
        ops += vop_desc(0, 3 * n, hdr_where, 16, 1, 3 * n + 1)
        ops += vop_desc(0, 3 * n + 1, data_where, 512, 1 | dflags, 3 * n + 2)
        ops += vop_desc(0, 3 * n + 2, st_where, 1, 2, 0)
        ops += vop_offer(0, 3 * n)
    ops += u8(8) + u8(9) + u8(0x20) + u8(0x20 | 9) + u8(4)  # ack irq; config reads
    write(t, "blk-requests", u8(blk) + ops)
    write(t, "blk-async-requests", u8(blk_async) + ops)
    write(t, "blk-ro-write", u8(blk_ro) + vop_init(common | (1 << 5)) + vop_ram(G_BUF, u32(1) + u32(0) + u64(0))
          + vop_desc(0, 0, 0, 16, 1, 1) + vop_desc(0, 1, 8, 512, 1, 2) + vop_desc(0, 2, 0x80, 1, 2, 0) + vop_offer(0, 0))
    # Indirect table: descriptor 0 points (INDIRECT) at 3 descriptors written into the buffer area.
    ind = b""
    for i, (where, ln, fl, nx) in enumerate([(0, 16, 1, 1), (8, 512, 3, 2), (0x80, 1, 2, 0)]):
        ind += vop_ram(G_BUF + 0x1000 * 8 + 16 * i, u64(G_BASE + G_BUF + where * 8) + u32(ln) + u16(fl) + u16(nx))
    write(t, "blk-indirect", u8(blk) + vop_init(common) + vop_ram(G_BUF, u32(0) + u32(0) + u64(3)) + ind
          + vop_desc(0, 0, 0x1000, 48, 4, 0) + vop_offer(0, 0))
    write(t, "rng", u8(rng) + vop_init(common) + vop_desc(0, 0, 0, 64, 2, 0) + vop_offer(0, 0)
          + vop_desc(0, 1, 8, 0, 2, 0) + vop_offer(0, 1))
    frame = bytes(12) + bytes([0xFF] * 6) + bytes([6, 0, 0xAC, 0x10, 0, 2]) + b"\x08\x06" + bytes(28)
    write(t, "net-tx-rx", u8(net) + vop_init(common | (1 << 5) | (1 << 16))
          + vop_ram(G_BUF, frame[:16]) + vop_ram(G_BUF + 16, frame[16:32]) + vop_desc(1, 0, 0, len(frame), 0, 0)
          + vop_offer(1, 0) + vop_desc(0, 0, 0x200, 1526, 2, 0) + vop_offer(0, 0)
          + u8(7) + u16(len(frame)) + frame + u8(7) + u16(3) + b"abc")
    # Offloads: a TSO4 frame with a checksum request (valid), one with a UDP gso type and one whose checksum
    # lies past its end (refused); a 3000-byte frame from the host over mergeable 1024-byte buffers.
    feat = common | (1 << 5) | (1 << 16) | 0b1111110000011 | (1 << 15)
    def vhdr(flags, gso, hdr_len, gso_size, cs, co):
        return u8(flags) + u8(gso) + u16(hdr_len) + u16(gso_size) + u16(cs) + u16(co) + u16(0)
    body = bytes([6, 0, 0xAC, 0x10, 0, 1, 6, 0, 0xAC, 0x10, 0, 2]) + b"\x08\x00" + bytes(50)
    off_ops = vop_init(feat)
    for i, h in enumerate([vhdr(1, 1, 54, 1448, 34, 16), vhdr(1, 3, 54, 1448, 34, 16), vhdr(1, 0, 0, 0, 60, 16)]):
        fr = h + body
        off_ops += (vop_ram(G_BUF + 0x100 * i, fr[:16]) + vop_ram(G_BUF + 0x100 * i + 16, fr[16:32])
                    + vop_desc(1, i, 0x20 * i, len(fr), 0, 0) + vop_offer(1, i))
    for i in range(4):
        off_ops += vop_desc(0, i, 0x400 + 0x100 * i, 1024, 2, 0) + vop_offer(0, i)
    big = vhdr(0, 0, 0, 0, 0, 0)[:12] + bytes([0xFF] * 6) + bytes(6) + b"\x08\x00" + bytes(2986)
    off_ops += u8(7) + u16(len(big)) + big
    write(t, "net-offload", u8(net_off) + off_ops)
    write(t, "console", u8(con) + vop_init(common) + vop_desc(0, 0, 0x200, 64, 2, 0) + vop_offer(0, 0)
          + u8(7) + u16(6) + b"hello\n" + vop_ram(G_BUF, b"out\n") + vop_desc(1, 0, 0, 4, 0, 0) + vop_offer(1, 0))
    # Raw transport: identity, feature windows, queue selection past the end, status games, reset.
    raw = b""
    for off in (0x000, 0x004, 0x008, 0x00C, 0x010, 0x034, 0x044, 0x060, 0x070, 0x0FC):
        raw += u8(0x20) + u16(off)
    raw += u8(1 | 0x20) + u16(0x030) + u32(7) + u8(0x20) + u16(0x034) + u8(1 | 0x20) + u16(0x070) + u32(0xFF)
    raw += u8(1) + u16(0x070) + u32(0) + u8(1 | 0x20) + u16(0x038) + u32(3) + u8(6) + u16(0xFFFF)
    write(t, "transport", u8(rng) + raw)


# ---- vsock (fuzz_vsock.c) ---------------------------------------------------------------------------------

V1 = 1 << 32
VS_PORT = {1000: 0, 1001: 1, 52: 2, 90: 3, 1 << 30: 4, (1 << 30) + 1: 5, 7: 6}


def vs_init():
    return u8(2) + u64(V1) + u8(5)  # queues of 32


def vs_rx(count, length=4096):
    return u8(5 | ((count - 1) << 4)) + u16(length)


def vs_pkt(op, src, dst, payload=b"", flags=0, how=0, extra=b""):
    return (u8(4) + u8(how) + extra + u8(VS_PORT[src]) + u8(VS_PORT[dst]) + u8(op) + u8(flags) + u16(len(payload))
            + payload[:64])


def vs_client(who, port=None):
    if port is None:
        return u8(7 | (who << 4))
    return u8(7 | 0x80 | (who << 4)) + u8(VS_PORT[port])


def vs_client_io(who, what, data=b""):
    return u8(8 | (who << 4)) + u8(what) + u8(len(data)) + data


def vs_accept(who, data=b""):
    return u8(10 | (who << 4)) + u8(len(data)) + data


def gen_vsock():
    t = "vsock"
    clean(t)
    ev = u8(9)
    write(t, "guest-initiated", vs_init() + vs_rx(8) + vs_pkt(1, 1000, 90) + vs_accept(0, b"hi") + ev
          + vs_pkt(5, 1000, 90, b"hello") + vs_rx(4) + vs_pkt(4, 1000, 90, flags=3) + ev + vs_pkt(3, 1000, 90))
    write(t, "host-initiated", vs_init() + vs_rx(8) + vs_client(0, 52) + ev + vs_pkt(2, 52, 1 << 30)
          + vs_client_io(0, 0, b"data") + ev + vs_pkt(5, 52, 1 << 30, b"back") + vs_client_io(0, 3)
          + vs_client_io(0, 1) + ev + vs_rx(4) + vs_pkt(4, 52, 1 << 30, flags=3) + vs_client_io(0, 2) + ev)
    hostile = vs_init() + vs_rx(16, 64)
    hostile += vs_pkt(1, 1000, 90, how=1, extra=u64(9))           # foreign source CID
    hostile += u8(4) + u8(4) + u8(0) + u8(3) + u16(2) + u8(1) + u8(0) + u16(0)  # SEQPACKET type
    hostile += u8(4) + u8(32) + u8(0) + u8(3) + u8(5) + u8(0) + u16(4) + u32(4096) + b"abcd"  # len > payload
    hostile += vs_pkt(7, 1001, 90) + vs_pkt(6, 1001, 90) + vs_pkt(8, 1001, 90) + vs_pkt(5, 7, 52, b"x")
    hostile += vs_pkt(1, 1001, 90, how=64) + vs_accept(1) + vs_pkt(5, 1001, 90, b"y" * 40, how=8, extra=u32(0))
    hostile += vs_rx(2, 20) + u8(6) + u8(4) + vs_client(2, 7) + vs_client_io(2, 0, b"CONNECT 1\n") + ev + u8(11)
    write(t, "hostile", hostile)


# ---- balloon (fuzz_balloon.c) -----------------------------------------------------------------------------

BAL_BASE_PFN = 0x80000000 >> 12


def bl_init(features):
    return u8(1) + u64(features)


def bl_pfns(q, pages, ragged=False):
    out = u8(2 | (q << 4) | (0x80 if ragged else 0)) + u8(len(pages))
    for p in pages:
        out += u8(p) if p < 0xF0 else u8(0xFF) + u32(p)
    return out


def bl_range(q, page, length, writable=True, skew=0):
    off = page * 4096 + 4096 + skew  # the target subtracts one page
    return u8(3 | (q << 4) | (0x80 if writable else 0)) + u32(off) + u32(length)


def bl_buf(q, data):
    return u8(4 | (q << 4)) + u8(len(data)) + data


def bl_write(page, v):
    return u8(5) + u8(page - 16) + u8(v)


def gen_balloon():
    t = "balloon"
    clean(t)
    stats, hint, report, oom = 1 << 1, 1 << 3, 1 << 5, 1 << 2
    write(t, "inflate", u8(2) + bl_init(V1 | oom) + bl_write(20, 0x11) + bl_pfns(0, [20, 21, 22, 21, 0xFFFFFFFF])
          + bl_pfns(0, [30], ragged=True) + bl_pfns(1, [20, 21]) + u8(10) + u8(7) + u8(3))
    write(t, "file-backed", u8(32) + bl_init(V1) + bl_write(100, 0x33) + bl_pfns(0, [100, 101, 102])
          + bl_write(100, 0x44) + bl_pfns(0, [100]))
    st = u16(4) + u64(1000) + u16(5) + u64(2000) + u16(42) + u64(1)
    write(t, "stats", u8(4) + bl_init(V1 | stats) + bl_buf(2, st) + u8(6) + bl_buf(2, st[:10]) + bl_buf(2, st)
          + u8(9) + u8(5) + u8(6))
    write(t, "hint-report", u8(4 | 8 | 16) + bl_init(V1 | stats | hint | report) + u8(0x48) + bl_buf(3, u32(2))
          + bl_range(3, 40, 3 * 4096) + bl_buf(3, u32(0)) + bl_range(4, 50, 2 * 4096, skew=100)
          + bl_range(4, 60, 4096, writable=False) + u8(0x88) + u8(10))


# ---- mmds -----------------------------------------------------------------------------------------------

def gen_mmds():
    t = "mmds"
    clean(t)

    def chunks(data, size=17):
        out = b""
        for i in range(0, len(data), size):
            out += u8(len(data[i:i + size])) + data[i:i + size]
        return out
    v1 = (b"GET /latest/meta-data/ami-id HTTP/1.1\r\nHost: x\r\n\r\n"
          b"GET /latest/meta-data/ HTTP/1.1\r\nAccept: application/json\r\n\r\n"
          b"GET /latest/meta-data/n HTTP/1.1\r\n\r\nPOST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
          b"GET /nope HTTP/1.0\r\n\r\n")
    write(t, "v1", u8(0) + u8(0) + chunks(v1))
    v2 = (b"GET /latest/meta-data/ami-id HTTP/1.1\r\n\r\n"
          b"PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: 21600\r\n\r\n"
          b"PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: 0\r\n\r\n"
          b"PUT /latest/api/token HTTP/1.1\r\nX-Forwarded-For: 1.2.3.4\r\nX-metadata-token-ttl-seconds: 5\r\n\r\n"
          b"GET /latest HTTP/1.1\r\nX-metadata-token: " + b"0" * 64 + b"\r\n\r\n")
    write(t, "v2", u8(0) + u8(3) + chunks(v2, 5))
    write(t, "malformed", u8(0) + u8(1) + chunks(b"GET\r\n\r\nGET / HTTP/2.0\r\n\r\nGET / HTTP/1.1\r\nbad\r\n\r\n"
                                                b"GET / HTTP/1.1\r\nContent-Length: 99999\r\n\r\n"))

    def doc(op, text):
        return u8(op) + u16(len(text)) + text
    write(t, "store", u8(1) + doc(0, b'{"latest":{"meta-data":{"a":"b","list":["x",{"b":"c"}]}}}')
          + doc(1, b'{"latest":{"meta-data":{"a":null,"c":{"d":"e"}}}}') + doc(1, b'[1,2]') + doc(0, b'{bad')
          + doc(1, b'{"x":' + b'"y' * 3000 + b'"}'))
    arp = bytes(12) + b"\x08\x06" + bytes(24) + bytes([169, 254, 169, 254])
    ip = bytes(12) + b"\x08\x00" + b"\x45" + bytes(15) + bytes([169, 254, 169, 254])
    write(t, "frames", u8(2) + u16(len(arp)) + arp + u16(len(ip)) + ip + u16(3) + b"abc"
          + u16(20) + b"\x52\x55\xa9\xfe\xa9\xfe" + bytes(6) + b"\x08\x06" + bytes(6))
def gen_faas_trace():
    """wisp-faas traces: a mode byte (bit 0: the reader's header comes first), then CSV rows."""
    clean("faas_trace")

    def row(owner, app, fn, trig, counts):
        cells = ["0"] * 1440
        for m, c in counts.items():
            cells[m] = str(c)
        return f"{owner},{app},{fn},{trig}," + ",".join(cells) + "\n"

    timer = {m: 1 for m in range(3, 1440, 30)}
    two = row("o1", "a1", "f1", "timer", timer) + row("o1", "a1", "f2", "http", {5: 2, 700: 1}) + \
        row("o2", "a2", "f1", "queue", {m: 50 for m in range(100, 160)})
    write("faas_trace", "rows", u8(1) + two.encode())
    write("faas_trace", "bad-count", u8(1) + row("o", "a", "f", "http", {9: "x1"}).encode())
    write("faas_trace", "short-row", u8(1) + b"o,a,f,http,1,2,3\n")
    hdr = "HashOwner,HashApp,HashFunction,Trigger," + ",".join(str(m) for m in range(1, 1441)) + "\n"
    write("faas_trace", "raw", u8(0) + (hdr + row("o", "a", "f", "http", {0: 1, 1439: 4})).encode())
    write("faas_trace", "raw-bad-header", u8(0) + b"HashOwner,HashApp\n")


def main():
    gen_mmds()
    gen_vsock()
    gen_balloon()
    gen_virtio()
    gen_snapshot()
    gen_api()
    gen_cpu()
    gen_mmu()
    gen_loader()
    gen_devices()
    gen_virtq()
    gen_faas_trace()
    total = {}
    for t in sorted(os.listdir(OUT)):
        d = os.path.join(OUT, t)
        if os.path.isdir(d):
            total[t] = sum(os.path.getsize(os.path.join(d, n)) for n in os.listdir(d))
    print("corpus sizes: " + ", ".join(f"{t} {n} B" for t, n in total.items()))


if __name__ == "__main__":
    main()
