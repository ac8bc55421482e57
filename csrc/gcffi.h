/* The C core's interface to Python, as cffi sees it (build_ffi.py reads this
 * file as its cdef, so it holds plain declarations only).
 *
 * Python objects cross as uintptr_t: id() of an object the caller keeps
 * alive, which on CPython is its address.  Results come back appended to a
 * list passed the same way.
 */
typedef struct gcffi_coro gcffi_coro;
/* What Python holds for a greenlet: a box around its core that Python
 * allocates (ffi.new), so that it lives exactly as long as the greenlet
 * object does; see _backend_cpython.py. */
typedef struct { gcffi_coro *coro; } gcffi_handle;

/* The greenlet already running this thread; record: the layer's record of
 * the thread (borrowed, see core.c), or 0. */
gcffi_coro *gcffi_new_main(uintptr_t record);
gcffi_coro *gcffi_new(void);        /* an unstarted greenlet */
void gcffi_free(gcffi_coro *c);
/* From the greenlet running in this thread to target (unstarted or
 * suspended).  0 once the caller is resumed; -1: no memory to switch;
 * -2: target belongs to another thread, or this thread has no main. */
int gcffi_transfer(gcffi_handle *target);
int gcffi_top_frame(gcffi_handle *h, uintptr_t out_list);
int gcffi_get_context(gcffi_handle *h, int running, uintptr_t out_list);
void gcffi_set_context(gcffi_handle *h, int running, uintptr_t ctx);
const char *gcffi_platform(void);
/* The Python layer's begin() and finish() (see core.c), kept for good. */
void gcffi_set_entry(uintptr_t begin, uintptr_t finish);
/* A C method descriptor of class cls (0: switch, 1: throw) calling
 * impl(self, *args, **kwargs) unseen by tracers; appended to out_list. */
int gcffi_make_method(uintptr_t cls, int which, uintptr_t impl, uintptr_t out_list);
/* A C function (as_method: a C instance method) of that name and doc that
 * calls fn unseen by tracers; appended to out_list. */
int gcffi_untraced(uintptr_t fn, uintptr_t name, uintptr_t doc, int as_method,
                   uintptr_t out_list);
/* A thread's main core lets its record go (the thread has ended). */
void gcffi_release_record(gcffi_coro *c);
/* getcurrent() reading the thread record's slots `current` and `doomed`
 * (their member descriptors), else calling slow(); appended to out_list. */
int gcffi_make_getcurrent(uintptr_t slow, uintptr_t current, uintptr_t doomed,
                          uintptr_t out_list);
/* switch() and switch(value) call impl(record, self, value, given) instead. */
int gcffi_set_fast_switch(uintptr_t impl);
/* call_traced(fn, *args) as a builtin function, appended to out_list. */
int gcffi_make_call_traced(uintptr_t out_list);
void gcffi_rearm_finalizer(uintptr_t obj);  /* its __del__ will run again */
void gcffi_untrack(uintptr_t obj);  /* left to reference counting alone */
/* The greenlet class's base, holding its handle unseen by the collector;
 * appended to out_list. */
int gcffi_make_handle_base(uintptr_t out_list);
size_t gcffi_stack_saved(gcffi_handle *h);  /* bytes of C stack kept in the heap */
int gcffi_trash_delete_nesting(void);       /* -1: this CPython has no such count */
long gcffi_fault_after(long n);     /* tests only: see stack.h */
/* greenlet's C API capsule (csrc/capi.c); objects are passed as id()s */
int gcffi_capi_capsule(uintptr_t type, uintptr_t error, uintptr_t exit,
                       uintptr_t switch_, uintptr_t throw_, uintptr_t getcurrent,
                       uintptr_t state, uintptr_t out_list);
/* The layer's transfer function and a handle (their type): see core.c */
void gcffi_set_transfer(uintptr_t fn, uintptr_t handle);
/* gcffi_transfer as a builtin function taking a handle, appended to out_list
 * (pointer: the sample handle's pointer as cffi reads it); -1: none. */
int gcffi_make_transfer(uintptr_t sample, uintptr_t pointer, uintptr_t out_list);
