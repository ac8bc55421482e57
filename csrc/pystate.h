/* What a greenlet keeps of CPython's PyThreadState while it is not running.
 *
 * Everything that describes "where the interpreter is" for the code running
 * on one C stack slice lives in the thread state, and each greenlet needs its
 * own copy, swapped on every switch.  The table below is the whole list for
 * each supported version; save and restore are generated from it.  A row is
 *     FIELD(type, name in gcffi_pystate, member of PyThreadState)
 *
 *                         3.9  3.10  3.11  3.12  3.13
 *   current Python frame  frame (PyFrameObject)
 *                              frame      cframe->current_frame  current_frame
 *   C-stack frame chain   -    cframe  cframe  cframe  -
 *   recursion depth       recursion_depth     recursion_remaining (kept
 *                         as a depth)    py_recursion_remaining (likewise),
 *                                        c_recursion_remaining
 *   exception being handled  exc_info + exc_state (type/value/tb until 3.10)
 *   contextvars           context (+ context_ver bumped on restore)
 *   frame data stack      -    -    datastack_chunk/top/limit
 *   trashcan              trash_delete_nesting, trash.delete_nesting (3.12),
 *                         delete_later (3.13)
 *
 * Pointers are moved, not copied: while a greenlet is suspended its slots
 * own what the thread state owned (its context, its exception), and the
 * thread state owns them again once it runs.  No reference counts change on
 * a switch.
 */
#ifndef GCFFI_PYSTATE_H
#define GCFFI_PYSTATE_H

#include <Python.h>

#if PY_VERSION_HEX < 0x03090000 || PY_VERSION_HEX >= 0x030E0000
#  error "greenlet_cffi supports CPython 3.9 to 3.13"
#endif

#define GCFFI_PY(major_minor) (PY_VERSION_HEX >> 16 == (major_minor))

#if GCFFI_PY(0x0309)
#  define GCFFI_PYSTATE(FIELD)                                          \
    FIELD(PyFrameObject *, frame, frame)                                \
    FIELD(int, recursion_depth, recursion_depth)                        \
    FIELD(_PyErr_StackItem *, exc_info, exc_info)                       \
    FIELD(PyObject *, exc_type, exc_state.exc_type)                     \
    FIELD(PyObject *, exc_value, exc_state.exc_value)                   \
    FIELD(PyObject *, exc_traceback, exc_state.exc_traceback)           \
    FIELD(PyObject *, context, context)                                 \
    FIELD(int, trash_delete_nesting, trash_delete_nesting)
#elif GCFFI_PY(0x030A)
#  define GCFFI_PYSTATE(FIELD)                                          \
    FIELD(CFrame *, cframe, cframe)                                     \
    FIELD(PyFrameObject *, frame, frame)                                \
    FIELD(int, recursion_depth, recursion_depth)                        \
    FIELD(_PyErr_StackItem *, exc_info, exc_info)                       \
    FIELD(PyObject *, exc_type, exc_state.exc_type)                     \
    FIELD(PyObject *, exc_value, exc_state.exc_value)                   \
    FIELD(PyObject *, exc_traceback, exc_state.exc_traceback)           \
    FIELD(PyObject *, context, context)                                 \
    FIELD(int, trash_delete_nesting, trash_delete_nesting)
#elif GCFFI_PY(0x030B)
#  define GCFFI_PYSTATE(FIELD)                                          \
    FIELD(_PyCFrame *, cframe, cframe)                                  \
    FIELD(struct _PyInterpreterFrame *, frame, cframe->current_frame)   \
    FIELD(_PyErr_StackItem *, exc_info, exc_info)                       \
    FIELD(PyObject *, exc_value, exc_state.exc_value)                   \
    FIELD(PyObject *, context, context)                                 \
    FIELD(_PyStackChunk *, datastack_chunk, datastack_chunk)            \
    FIELD(PyObject **, datastack_top, datastack_top)                    \
    FIELD(PyObject **, datastack_limit, datastack_limit)                \
    FIELD(int, trash_delete_nesting, trash_delete_nesting)
#elif GCFFI_PY(0x030C)
#  define GCFFI_PYSTATE(FIELD)                                          \
    FIELD(_PyCFrame *, cframe, cframe)                                  \
    FIELD(struct _PyInterpreterFrame *, frame, cframe->current_frame)   \
    FIELD(int, c_recursion_remaining, c_recursion_remaining)            \
    FIELD(_PyErr_StackItem *, exc_info, exc_info)                       \
    FIELD(PyObject *, exc_value, exc_state.exc_value)                   \
    FIELD(PyObject *, context, context)                                 \
    FIELD(_PyStackChunk *, datastack_chunk, datastack_chunk)            \
    FIELD(PyObject **, datastack_top, datastack_top)                    \
    FIELD(PyObject **, datastack_limit, datastack_limit)                \
    FIELD(int, trash_delete_nesting, trash.delete_nesting)
#else /* 3.13 */
#  define GCFFI_PYSTATE(FIELD)                                          \
    FIELD(struct _PyInterpreterFrame *, frame, current_frame)           \
    FIELD(int, c_recursion_remaining, c_recursion_remaining)            \
    FIELD(_PyErr_StackItem *, exc_info, exc_info)                       \
    FIELD(PyObject *, exc_value, exc_state.exc_value)                   \
    FIELD(PyObject *, context, context)                                 \
    FIELD(_PyStackChunk *, datastack_chunk, datastack_chunk)            \
    FIELD(PyObject **, datastack_top, datastack_top)                    \
    FIELD(PyObject **, datastack_limit, datastack_limit)                \
    FIELD(PyObject *, delete_later, delete_later)
#endif

/* From 3.12 each entry into the eval loop links a frame that lives on the
 * C stack between the Python frames (see core.c: hide_cstack_frames). */
#define GCFFI_CSTACK_FRAMES (PY_VERSION_HEX >= 0x030C0000)
#if GCFFI_CSTACK_FRAMES
#  ifndef Py_BUILD_CORE
#    define Py_BUILD_CORE 1
#  endif
#  include "internal/pycore_frame.h"
typedef struct {
    struct _PyInterpreterFrame *frame, *previous;
} gcffi_link;
#endif

/* From 3.11 the thread state counts what remains of the recursion limit;
 * a greenlet keeps its depth instead, so that a sys.setrecursionlimit()
 * made while it is suspended applies to it too. */
#if GCFFI_PY(0x030B)
#  define GCFFI_RECURSION_LIMIT(ts) ((ts)->recursion_limit)
#  define GCFFI_RECURSION_REMAINING(ts) ((ts)->recursion_remaining)
#elif PY_VERSION_HEX >= 0x030C0000
#  define GCFFI_RECURSION_LIMIT(ts) ((ts)->py_recursion_limit)
#  define GCFFI_RECURSION_REMAINING(ts) ((ts)->py_recursion_remaining)
#endif

/* Python frames live in per-thread data-stack chunks from 3.11 on. */
#define GCFFI_HAS_DATASTACK (PY_VERSION_HEX >= 0x030B0000)
/* The tracing flag lives in each C-level eval frame in 3.10 and 3.11. */
#define GCFFI_CFRAME_TRACING (GCFFI_PY(0x030A) || GCFFI_PY(0x030B))

typedef struct {
#define GCFFI_DECLARE(type, name, member) type name;
    GCFFI_PYSTATE(GCFFI_DECLARE)
#undef GCFFI_DECLARE
#ifdef GCFFI_RECURSION_LIMIT
    int recursion_depth;
#endif
    int owned;                  /* slots hold the references (suspended) */
#if GCFFI_CSTACK_FRAMES
    gcffi_link *links;          /* frame links bent past C-stack frames */
    int nlinks, maxlinks;
#endif
#if GCFFI_CFRAME_TRACING
    int use_tracing;            /* the switcher's flag, handed to us */
#endif
} gcffi_pystate;

#endif
