; task: sort4
; isa: cmov
; registers: 5
; length: 28
; core_length: 20
; critical_path: 11
; found_by: alphadev search (sorting network (enumeration, fast mode))
; command: alphadev search --n 4 --isa cmov --method exact --seed 0 --time-limit 60
; seed: 0
; simulations: 0
; seconds: 0.59
; verified: 75 tie-pattern rows + 30000 random int32 rows

mov r0, m0
mov r1, m1
mov r2, m2
mov r3, m3
mov r4, r0
cmp r0, r1
cmovg r0, r1
cmovg r1, r4
mov r4, r2
cmp r2, r3
cmovg r2, r3
cmovg r3, r4
mov r4, r0
cmp r0, r2
cmovg r0, r2
cmovg r2, r4
mov r4, r1
cmp r1, r3
cmovg r1, r3
cmovg r3, r4
mov r4, r1
cmp r1, r2
cmovg r1, r2
cmovg r2, r4
mov m0, r0
mov m1, r1
mov m2, r2
mov m3, r3
