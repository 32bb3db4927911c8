"""Which method of the symbolic machine (:class:`.machine.Machine`) executes each opcode.

The names are CPython's (``Lib/pickle.py``: ``load_<name>``, here ``op_<name>``); a byte
missing from the table is what CPython reports as "invalid load key".
"""

from __future__ import annotations

__all__ = ["OPCODE_METHODS", "OPCODE_NAMES"]

#: Opcode byte -> the :class:`Machine` method that executes it (CPython ``Lib/pickle.py``
#: names); any other byte is "invalid load key".
OPCODE_METHODS: dict[int, str] = {
    0x80: "op_proto",
    0x95: "op_frame",
    ord("."): "op_stop",
    ord("("): "op_mark",
    ord("0"): "op_pop",
    ord("1"): "op_pop_mark",
    ord("2"): "op_dup",
    ord("N"): "op_none",
    0x88: "op_true",
    0x89: "op_false",
    ord("I"): "op_int",
    ord("L"): "op_long",
    ord("F"): "op_float",
    ord("J"): "op_binint",
    ord("K"): "op_binint1",
    ord("M"): "op_binint2",
    0x8A: "op_long1",
    0x8B: "op_long4",
    ord("G"): "op_binfloat",
    ord("S"): "op_string",
    ord("T"): "op_binstring",
    ord("U"): "op_short_binstring",
    ord("V"): "op_unicode",
    ord("X"): "op_binunicode",
    0x8C: "op_short_binunicode",
    0x8D: "op_binunicode8",
    ord("B"): "op_binbytes",
    ord("C"): "op_short_binbytes",
    0x8E: "op_binbytes8",
    0x96: "op_bytearray8",
    0x97: "op_next_buffer",
    0x98: "op_readonly_buffer",
    ord(")"): "op_empty_tuple",
    ord("t"): "op_tuple",
    0x85: "op_tuple1",
    0x86: "op_tuple2",
    0x87: "op_tuple3",
    ord("]"): "op_empty_list",
    ord("l"): "op_list",
    ord("}"): "op_empty_dict",
    ord("d"): "op_dict",
    0x8F: "op_empty_set",
    0x91: "op_frozenset",
    ord("a"): "op_append",
    ord("e"): "op_appends",
    ord("s"): "op_setitem",
    ord("u"): "op_setitems",
    0x90: "op_additems",
    ord("p"): "op_put",
    ord("q"): "op_binput",
    ord("r"): "op_long_binput",
    0x94: "op_memoize",
    ord("g"): "op_get",
    ord("h"): "op_binget",
    ord("j"): "op_long_binget",
    ord("c"): "op_global",
    0x93: "op_stack_global",
    ord("i"): "op_inst",
    ord("o"): "op_obj",
    0x82: "op_ext1",
    0x83: "op_ext2",
    0x84: "op_ext4",
    ord("R"): "op_reduce",
    0x81: "op_newobj",
    0x92: "op_newobj_ex",
    ord("b"): "op_build",
    ord("P"): "op_persid",
    ord("Q"): "op_binpersid",
}

#: Opcode byte -> name, for messages and tests.
OPCODE_NAMES = {code: method[3:].upper() for code, method in OPCODE_METHODS.items()}
