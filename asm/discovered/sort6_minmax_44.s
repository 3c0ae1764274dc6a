; task: sort6
; isa: minmax
; registers: 7
; length: 44
; core_length: 32
; critical_path: 13
; found_by: alphadev search (comparator search (not a proof))
; command: alphadev search --n 6 --isa minmax --method comparators --seed 0 --time-limit 60
; seed: 0
; simulations: 0
; seconds: 3.40
; verified: 4683 tie-pattern rows + 30000 random int32 rows
; optimal: not proved

mov r0, m0
mov r1, m1
mov r2, m2
mov r3, m3
mov r4, m4
mov r5, m5
mov r6, r3
min r3, r5
max r6, r5
mov r5, r4
min r4, r6
max r6, r5
min r5, r3
max r4, r3
mov r3, r0
min r0, r2
max r2, r3
mov r3, r1
min r1, r2
max r2, r3
min r3, r0
max r1, r0
min r0, r5
max r5, r3
min r3, r0
mov r0, r2
min r0, r6
max r6, r2
mov r2, r1
min r1, r4
max r2, r4
mov r4, r1
min r1, r5
max r4, r5
min r4, r0
max r5, r0
min r5, r2
max r2, r0
mov m0, r3
mov m1, r1
mov m2, r4
mov m3, r5
mov m4, r2
mov m5, r6
