/* A static program that says who and where it runs: the smallest distill example. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv) {
    const char *greeting = getenv("GREETING");
    printf("%s from a distroless image\n", greeting ? greeting : "hello");
    printf("uid=%d gid=%d\n", (int)getuid(), (int)getgid());
    for (int i = 1; i < argc; i++) printf("arg: %s\n", argv[i]);
    return 0;
}
