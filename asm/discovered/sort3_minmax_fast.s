; task: sort3
; isa: minmax
; registers: 4
; length: 14
; core_length: 8
; critical_path: 8
; found_by: alphadev search (comparator search (not a proof))
; command: alphadev search --n 3 --isa minmax --method comparators --seed 0 --time-limit 60
; seed: 0
; simulations: 0
; seconds: 0.25
; verified: 13 tie-pattern rows + 30000 random int32 rows
; cycles_throughput: 3.00
; cycles_latency: 22.50
; lowering: sse
; optimal: yes, no shorter core in the enumeration space (exact descent exhausted)
; native: throughput 1.000x, latency 0.970x the lowered sorting network (AMD EPYC, gcc 12.2.0, -O2)
; objective: latency

mov r0, m0
mov r1, m1
mov r2, m2
mov r3, r1
min r1, r2
max r2, r3
mov r3, r0
min r0, r1
max r1, r3
min r1, r2
max r3, r2
mov m0, r0
mov m1, r1
mov m2, r3
