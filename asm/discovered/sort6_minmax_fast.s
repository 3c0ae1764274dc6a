; task: sort6
; isa: minmax
; registers: 7
; length: 48
; core_length: 36
; critical_path: 14
; found_by: alphadev search (sorting network (constructed))
; command: alphadev search --n 6 --isa minmax --method exact --seed 0 --time-limit 60
; seed: 0
; simulations: 0
; seconds: 0.00
; verified: 4683 tie-pattern rows + 30000 random int32 rows
; cycles_throughput: 8.00
; cycles_latency: 24.50
; lowering: sse
; optimal: not proved
; native: throughput 1.000x, latency 1.000x the lowered sorting network (AMD EPYC, gcc 12.2.0, -O2)
; objective: latency

mov r0, m0
mov r1, m1
mov r2, m2
mov r3, m3
mov r4, m4
mov r5, m5
mov r6, r0
min r0, r1
max r1, r6
mov r6, r2
min r2, r3
max r3, r6
mov r6, r4
min r4, r5
max r5, r6
mov r6, r0
min r0, r2
max r2, r6
mov r6, r1
min r1, r3
max r3, r6
mov r6, r1
min r1, r2
max r2, r6
mov r6, r0
min r0, r4
max r4, r6
mov r6, r1
min r1, r5
max r5, r6
mov r6, r2
min r2, r4
max r4, r6
mov r6, r3
min r3, r5
max r5, r6
mov r6, r1
min r1, r2
max r2, r6
mov r6, r3
min r3, r4
max r4, r6
mov m0, r0
mov m1, r1
mov m2, r2
mov m3, r3
mov m4, r4
mov m5, r5
