; task: sort3
; isa: cmov
; registers: 4
; length: 17
; core_length: 11
; critical_path: 10
; found_by: alphadev search (enumeration (exact tail search), optimal in its space)
; command: alphadev search --n 3 --isa cmov --method exact --seed 0 --time-limit 60
; seed: 0
; simulations: 896
; seconds: 1.15
; verified: 13 tie-pattern rows + 30000 random int32 rows

mov r0, m0
mov r1, m1
mov r2, m2
mov r3, r0
cmp r0, r1
cmovg r0, r1
cmovg r1, r3
mov r3, r2
cmp r1, r3
cmovl r2, r1
cmovl r1, r3
cmp r0, r3
cmovl r3, r0
cmovl r0, r2
mov m0, r3
mov m1, r0
mov m2, r1
