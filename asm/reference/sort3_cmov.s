; task: sort3
; isa: cmov
; registers: 4
; length: 18
; core_length: 12
; found_by: hand-written sorting network, 3 comparators (0,2) (0,1) (1,2); 3 loads, 4 instructions per compare-exchange, 3 stores
; verified: 13 tie-pattern rows + 30000 random int32 rows

mov r0, m0
mov r1, m1
mov r2, m2
mov r3, r0
cmp r0, r2
cmovg r0, r2
cmovg r2, r3
mov r3, r0
cmp r0, r1
cmovg r0, r1
cmovg r1, r3
mov r3, r1
cmp r1, r2
cmovg r1, r2
cmovg r2, r3
mov m0, r0
mov m1, r1
mov m2, r2
