/* hello_static: the floor for "what does exec of a program cost" (run.sh links it -static),
 * compared with isolate-helper --version, which links libsystemd, libseccomp, libconfuse and
 * libcap dynamically. */
#include <stdio.h>

int main(void)
{
        puts("hello");
        return 0;
}
