; task: sort2
; isa: cmov
; registers: 3
; length: 8
; core_length: 4
; critical_path: 8
; found_by: alphadev search (mcts)
; command: alphadev search --n 2 --isa cmov --method mcts --seed 0 --time-limit 60
; seed: 0
; simulations: 768
; seconds: 0.46
; verified: 3 tie-pattern rows + 30000 random int32 rows

mov r0, m0
mov r1, m1
mov r2, r1
cmp r0, r2
cmovle r2, r0
mov m0, r2
cmovg r1, r0
mov m1, r1
