/*
 * REAL(ret, name, args...): declares get_<name>(), the next definition of the
 * libc symbol <name> after this library (dlsym(RTLD_NEXT)), looked up once.
 * Each translation unit that interposes libc symbols includes this.
 */
#ifndef STANDIN_REAL_H
#define STANDIN_REAL_H

#include <dlfcn.h>

#define REAL(ret, name, ...)                                                    \
    static ret (*real_##name)(__VA_ARGS__);                                    \
    static ret (*get_##name(void))(__VA_ARGS__)                                \
    {                                                                          \
        if (!real_##name) {                                                    \
            real_##name = (ret (*)(__VA_ARGS__))dlsym(RTLD_NEXT, #name);       \
        }                                                                      \
        return real_##name;                                                    \
    }

#endif
