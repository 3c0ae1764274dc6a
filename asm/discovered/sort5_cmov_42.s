; task: sort5
; isa: cmov
; registers: 6
; length: 42
; core_length: 32
; critical_path: 17
; found_by: alphadev search (comparator search (not a proof))
; command: alphadev search --n 5 --isa cmov --method comparators --seed 0 --time-limit 60
; seed: 0
; simulations: 0
; seconds: 5.81
; verified: 541 tie-pattern rows + 30000 random int32 rows
; optimal: not proved

mov r0, m0
mov r1, m1
mov r2, m2
mov r3, m3
mov r4, m4
mov r5, r3
cmp r3, r4
cmovl r3, r4
cmovl r4, r5
cmp r1, r3
cmovle r5, r1
cmovl r1, r3
cmovl r3, r5
cmp r3, r4
cmovl r3, r4
cmovg r5, r4
cmp r0, r2
cmovl r4, r2
cmovl r2, r0
cmovl r0, r4
mov r4, r0
cmp r0, r1
cmovl r0, r1
cmovl r1, r4
cmp r4, r5
cmovl r1, r5
cmovg r4, r5
cmp r2, r4
cmovg r4, r2
cmovle r5, r2
cmp r2, r3
cmovl r2, r3
cmovg r4, r3
cmp r1, r2
cmovge r3, r2
cmovg r2, r1
cmovg r1, r3
mov m0, r5
mov m1, r4
mov m2, r1
mov m3, r2
mov m4, r0
