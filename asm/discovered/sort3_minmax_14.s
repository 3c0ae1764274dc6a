; task: sort3
; isa: minmax
; registers: 4
; length: 14
; core_length: 8
; critical_path: 9
; found_by: alphadev search (enumeration (exact tail search), optimal in its space)
; command: alphadev search --n 3 --isa minmax --method exact --seed 0 --time-limit 60
; seed: 0
; simulations: 0
; seconds: 0.68
; verified: 13 tie-pattern rows + 30000 random int32 rows

mov r0, m0
mov r1, m1
mov r2, m2
mov r3, r0
min r0, r1
max r1, r3
mov r3, r0
min r0, r2
max r3, r2
min r3, r1
max r1, r2
mov m0, r0
mov m1, r3
mov m2, r1
