; task: sort3
; isa: minmax
; registers: 4
; length: 15
; core_length: 9
; found_by: hand-written sorting network, 3 comparators (0,2) (0,1) (1,2); 3 loads, 3 instructions per compare-exchange, 3 stores
; verified: 13 tie-pattern rows + 30000 random int32 rows

mov r0, m0
mov r1, m1
mov r2, m2
mov r3, r0
min r0, r2
max r2, r3
mov r3, r0
min r0, r1
max r1, r3
mov r3, r1
min r1, r2
max r2, r3
mov m0, r0
mov m1, r1
mov m2, r2
