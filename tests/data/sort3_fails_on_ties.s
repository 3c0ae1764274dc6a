; task: sort3
; isa: cmov
; registers: 5
; length: 20
; found_by: written by hand for the tests: the first compare-exchange computes min(a, b) as "start from c, cmovl a, cmovg b", so on a == b neither cmov fires and c is duplicated; every permutation of distinct values is sorted, inputs with ties are not

mov r0, m0
mov r1, m1
mov r2, m2
mov r3, r2
cmp r0, r1
cmovl r3, r0
cmovg r3, r1
mov r4, r0
cmovl r4, r1
mov r0, r4
cmp r4, r2
cmovg r4, r2
cmovg r2, r0
mov r0, r3
cmp r3, r4
cmovg r3, r4
cmovg r4, r0
mov m0, r3
mov m1, r4
mov m2, r2
