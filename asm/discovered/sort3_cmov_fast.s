; task: sort3
; isa: cmov
; registers: 4
; length: 17
; core_length: 11
; critical_path: 10
; found_by: alphadev search (comparator search ranked by predicted latency (not a proof))
; seed: 0
; simulations: 0
; seconds: 21.59
; verified: 13 tie-pattern rows + 30000 random int32 rows
; cycles_throughput: 3.00
; cycles_latency: 21.00
; lowering: gpr
; optimal: yes, no shorter core in the enumeration space (exact descent exhausted)
; command: alphadev search --n 3 --isa cmov --method auto --seed 0 --time-limit 60
; native: throughput 0.979x, latency 0.962x the lowered sorting network (AMD EPYC, gcc 12.2.0, -O2)
; objective: latency

mov r0, m0
mov r1, m1
mov r2, m2
mov r3, r1
cmp r1, r2
cmovl r1, r2
cmovg r3, r2
mov r2, r0
cmp r0, r3
cmovl r0, r3
cmovl r3, r2
cmp r1, r2
cmovl r0, r1
cmovg r2, r1
mov m0, r3
mov m1, r0
mov m2, r2
