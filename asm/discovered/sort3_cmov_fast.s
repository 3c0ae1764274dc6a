; task: sort3
; isa: cmov
; registers: 4
; length: 18
; core_length: 12
; critical_path: 11
; found_by: alphadev search (sorting network (constructed))
; command: alphadev search --n 3 --isa cmov --method exact --seed 0 --time-limit 60
; seed: 0
; simulations: 192
; seconds: 0.00
; verified: 13 tie-pattern rows + 30000 random int32 rows
; cycles_throughput: 3.00
; cycles_latency: 22.25
; optimal: not proved
; native: throughput 1.000x, latency 1.000x the lowered sorting network (AMD EPYC, gcc 12.2.0, -O2)
; objective: latency

mov r0, m0
mov r1, m1
mov r2, m2
mov r3, r0
cmp r0, r1
cmovg r0, r1
cmovg r1, r3
mov r3, r0
cmp r0, r2
cmovg r0, r2
cmovg r2, r3
mov r3, r1
cmp r1, r2
cmovg r1, r2
cmovg r2, r3
mov m0, r0
mov m1, r1
mov m2, r2
