; task: sort4
; isa: minmax
; registers: 5
; length: 23
; core_length: 15
; critical_path: 10
; found_by: alphadev search (sorting network (constructed))
; command: alphadev search --n 4 --isa minmax --method exact --seed 0 --time-limit 60
; seed: 0
; simulations: 48357
; seconds: 0.00
; verified: 75 tie-pattern rows + 30000 random int32 rows
; cycles_throughput: 4.00
; cycles_latency: 23.50
; lowering: sse
; optimal: yes, no shorter core in the enumeration space (exact descent exhausted)
; native: throughput 1.000x, latency 1.000x the lowered sorting network (AMD EPYC, gcc 12.2.0, -O2)
; objective: latency

mov r0, m0
mov r1, m1
mov r2, m2
mov r3, m3
mov r4, r0
min r0, r1
max r1, r4
mov r4, r2
min r2, r3
max r3, r4
mov r4, r0
min r0, r2
max r2, r4
mov r4, r1
min r1, r3
max r3, r4
mov r4, r1
min r1, r2
max r2, r4
mov m0, r0
mov m1, r1
mov m2, r2
mov m3, r3
