/* Functions no file of cmkguard may call. The build includes this header first in every
 * file it compiles (library, command, unit tests, benchmarks, fuzzers: -include), so a
 * use is a compile error naming the function, wherever it is. Each has a replacement
 * that cannot write past its bound, truncate silently or share static state:
 *   strcpy, strcat, strncpy, strncat, sprintf, vsprintf -> cm_buf, snprintf (checked)
 *   gets                                                 -> fgets, getline
 *   strtok                                               -> strtok_r, strcspn
 *   atoi, atol, atoll                                    -> strtol, strtoll (checked)
 *   gmtime, localtime, ctime, asctime                    -> gmtime_r, cm_time_* */
#ifndef CM_BANNED_H
#define CM_BANNED_H
/* The headers that declare them come first: a later include of one is a no-op. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CM_BANNED(f) sorry_##f##_is_a_banned_function

#undef strcpy
#define strcpy(x, y) CM_BANNED(strcpy)
#undef strcat
#define strcat(x, y) CM_BANNED(strcat)
#undef strncpy
#define strncpy(x, y, n) CM_BANNED(strncpy)
#undef strncat
#define strncat(x, y, n) CM_BANNED(strncat)
#undef sprintf
#define sprintf(...) CM_BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) CM_BANNED(vsprintf)
#undef gets
#define gets(x) CM_BANNED(gets)
#undef strtok
#define strtok(x, y) CM_BANNED(strtok)
#undef atoi
#define atoi(x) CM_BANNED(atoi)
#undef atol
#define atol(x) CM_BANNED(atol)
#undef atoll
#define atoll(x) CM_BANNED(atoll)
#undef gmtime
#define gmtime(t) CM_BANNED(gmtime)
#undef localtime
#define localtime(t) CM_BANNED(localtime)
#undef ctime
#define ctime(t) CM_BANNED(ctime)
#undef asctime
#define asctime(t) CM_BANNED(asctime)
#endif
