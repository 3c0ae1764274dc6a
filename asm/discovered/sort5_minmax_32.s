; task: sort5
; isa: minmax
; registers: 6
; length: 32
; core_length: 22
; critical_path: 11
; found_by: alphadev search (exact tail search)
; command: alphadev search --n 5 --isa minmax --method exact --seed 1 --time-limit 60
; seed: 1
; simulations: 0
; seconds: 1.28
; verified: 541 tie-pattern rows + 30000 random int32 rows
; optimal: not proved

mov r0, m0
mov r1, m1
mov r2, m2
mov r3, m3
mov r4, m4
mov r5, r0
min r0, r3
max r5, r3
mov r3, r0
min r0, r1
max r3, r1
min r3, r5
max r1, r5
mov r5, r2
min r2, r4
max r5, r4
mov r4, r0
min r0, r2
max r4, r2
max r2, r1
min r2, r5
max r2, r3
min r3, r5
max r5, r1
min r1, r4
min r4, r3
max r1, r3
mov m0, r0
mov m1, r4
mov m2, r1
mov m3, r2
mov m4, r5
