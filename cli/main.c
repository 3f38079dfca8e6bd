#include <stdio.h>
int main(void) { puts("cmkguard"); return 0; }
